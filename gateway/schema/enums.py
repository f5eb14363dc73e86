"""The contract's enums; their values are the strings the domain and read models use."""

from __future__ import annotations

import enum

import strawberry


@strawberry.enum
class Channel(enum.Enum):
    PHONE = "PHONE"
    EMAIL = "EMAIL"
    MEETING = "MEETING"
    VISIT = "VISIT"
    WECHAT = "WECHAT"
    SOCIAL = "SOCIAL"
    WEB = "WEB"
    OTHER = "OTHER"


@strawberry.enum
class Direction(enum.Enum):
    INBOUND = "INBOUND"
    OUTBOUND = "OUTBOUND"


@strawberry.enum
class PipelineStage(enum.Enum):
    LEAD = "LEAD"
    CONTACTED = "CONTACTED"
    QUALIFIED = "QUALIFIED"
    PROPOSAL = "PROPOSAL"
    QUOTE = "QUOTE"
    NEGOTIATION = "NEGOTIATION"
    WON = "WON"
    LOST = "LOST"


@strawberry.enum
class LifecycleStage(enum.Enum):
    PROSPECT = "PROSPECT"
    OPPORTUNITY = "OPPORTUNITY"
    NEW_CUSTOMER = "NEW_CUSTOMER"
    REPEAT_CUSTOMER = "REPEAT_CUSTOMER"
    LOYAL = "LOYAL"
    AT_RISK = "AT_RISK"
    CHURNED = "CHURNED"


@strawberry.enum
class Tier(enum.Enum):
    VIP = "VIP"
    GOLD = "GOLD"
    SILVER = "SILVER"
    BRONZE = "BRONZE"


@strawberry.enum
class ComplaintStatus(enum.Enum):
    OPEN = "OPEN"
    ESCALATED = "ESCALATED"
    RESOLVED = "RESOLVED"


@strawberry.enum
class Severity(enum.Enum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


@strawberry.enum(description="What a customer list is ordered by (ties broken by id).")
class CustomerOrderField(enum.Enum):
    CREATED_AT = "CREATED_AT"
    UPDATED_AT = "UPDATED_AT"
    NAME = "NAME"


@strawberry.enum
class SortDirection(enum.Enum):
    ASC = "ASC"
    DESC = "DESC"
