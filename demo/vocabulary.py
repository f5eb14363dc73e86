"""Domain words for demo data, taken from the background articles (/work/shared/seeds).

The articles describe what a Chinese B2B CRM keeps about its customers: tags by region,
industry, purchasing power, activity and lifecycle (北京/上海/广州, 教育/制造/医疗,
高价值/潜力客户, 活跃/沉睡客户, 新客户/老客户); lead sources (官网表单, 电话沟通,
社交媒体, 线下活动, 微信公众号); touches (电话回访, 节日问候, 会议记录); the sales path
(线索挖掘, 初步接触, 需求挖掘, 方案制定, 报价, 谈判, 成交, 售后); complaints about
产品质量, 服务态度, 交货时间. The seller in our demo offers a CRM suite (modules, seats,
services), the products those articles discuss, so SKUs and needs read naturally.

Kept as plain tuples: the generator draws from them with a seeded `random.Random`, so
the order here is part of what makes a given `--seed` reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final

# (region, weight): big commercial centres first, as customer lists usually look.
REGIONS: Final = (
    ("北京", 14),
    ("上海", 14),
    ("广州", 9),
    ("深圳", 10),
    ("杭州", 7),
    ("南京", 5),
    ("苏州", 5),
    ("成都", 6),
    ("武汉", 5),
    ("西安", 4),
    ("重庆", 4),
    ("天津", 3),
    ("长沙", 3),
    ("郑州", 3),
    ("青岛", 3),
    ("厦门", 2),
    ("宁波", 2),
    ("合肥", 2),
    ("济南", 2),
    ("沈阳", 2),
    ("昆明", 1),
    ("香港", 1),
)

INDUSTRIES: Final = (
    ("制造", 16),
    ("教育", 10),
    ("医疗", 8),
    ("零售", 10),
    ("电子产品", 8),
    ("服装批发", 6),
    ("金融", 6),
    ("互联网", 9),
    ("物流", 5),
    ("房地产", 4),
    ("餐饮", 4),
    ("汽车", 5),
    ("能源", 3),
    ("专业服务", 6),
)

# Acquisition sources (stable keys, so analysts can group by them), with weights.
SOURCES: Final = (
    ("web", 26),  # 官网表单
    ("wechat", 18),  # 微信公众号 / 企业微信
    ("trade-show", 10),  # 线下活动、展会扫码签到
    ("cold-call", 10),  # 电话拓客
    ("partner", 9),  # 渠道合作伙伴
    ("social", 8),  # 社交媒体
    ("alibaba", 6),  # 诚信通 / B2B 平台
    ("email-campaign", 5),  # 邮件营销
    ("referral", 8),  # 老客户转介绍 (needs a referrer; see story.py)
)

EMAIL_DOMAINS: Final = (
    "qq.com",
    "163.com",
    "126.com",
    "sina.com",
    "foxmail.com",
    "aliyun.com",
    "outlook.com",
    "gmail.com",
)


@dataclass(frozen=True)
class Product:
    """One SKU of the demo seller's catalogue; list price in CNY."""

    sku: str
    name: str
    price_cny: Decimal
    max_quantity: int


CATALOGUE: Final = (
    Product("CRM-STD-SEAT", "标准版席位(年)", Decimal("1200.00"), 40),
    Product("CRM-PRO-SEAT", "专业版席位(年)", Decimal("2400.00"), 30),
    Product("CRM-ENT-SEAT", "旗舰版席位(年)", Decimal("4800.00"), 20),
    Product("SFA-MODULE", "销售自动化模块", Decimal("18000.00"), 1),
    Product("MKT-AUTO", "营销自动化模块", Decimal("24000.00"), 1),
    Product("SVC-DESK", "客户服务工单模块", Decimal("15000.00"), 1),
    Product("BI-REPORT", "数据分析与报表", Decimal("12000.00"), 1),
    Product("WECHAT-CONN", "企业微信/公众号连接器", Decimal("6800.00"), 1),
    Product("API-PACK", "API 调用包(100万次)", Decimal("3000.00"), 5),
    Product("SMS-PACK", "短信包(1万条)", Decimal("450.00"), 20),
    Product("IMPL-SVC", "实施服务(人天)", Decimal("2500.00"), 15),
    Product("TRAIN-DAY", "培训服务(天)", Decimal("3500.00"), 4),
    Product("DATA-MIG", "数据迁移与清洗服务", Decimal("8000.00"), 1),
    Product("SUPPORT-GOLD", "金牌支持服务(年)", Decimal("20000.00"), 1),
)

# Currencies a foreign buyer may pay in (weights), with the list-price divisor used to
# quote them; the store converts back to CNY with its own rate table.
FOREIGN_QUOTES: Final = (
    ("USD", Decimal("7.10"), 2),
    ("EUR", Decimal("7.70"), 1),
)

TAGS_BY_KIND: Final = {
    "value": ("高价值", "潜力客户", "普通客户"),
    "activity": ("活跃", "沉睡客户"),
    "lifecycle": ("新客户", "老客户", "长期客户"),
    "follow_up": ("重点跟进", "需回访", "价格敏感", "决策链长", "技术导向"),
    "kind": ("企业客户", "个人客户", "渠道客户"),
}

OUTCOMES: Final = (
    "已接通,客户有兴趣",
    "无人接听,稍后再联系",
    "约定产品演示",
    "已发送资料",
    "客户暂无需求",
    "需要内部讨论",
    "已发送报价单",
    "已确认下次拜访时间",
    "问题已解决",
)

# Touch summaries per channel; {product} and {region} are filled in by the generator.
NOTES: Final = (
    "客户决策人是采购部王经理,下周二前需要正式报价",
    "对{product}很感兴趣,但预算要等下个季度批下来",
    "客户提到竞争对手给了更低的价格,需要准备对比材料",
    "约好月底上门演示,带上{product}的样机",
    "客户希望先试用两周再决定,已申请试用账号",
    "Prefers WeChat over phone; do not call before 10am",
    "Asked for references from customers in the same industry",
)

TASK_TITLES: Final = {
    "CALL_BACK": "回电确认报价细节",
    "VISIT": "上门拜访,演示新版本",
    "QUOTE_FOLLOW_UP": "跟进报价单,确认付款方式",
    "CARE_CALL": "定期回访,了解使用情况",
}

TOUCH_SUMMARIES: Final = {
    "PHONE": (
        "电话回访,了解{product}的使用情况和新的需求",
        "初次电话沟通,介绍{product},客户表示会内部评估",
        "电话跟进报价,客户关注折扣和付款周期",
        "售后电话回访,确认{product}上线后运行正常",
    ),
    "EMAIL": (
        "发送{product}产品资料和客户案例",
        "邮件确认演示时间和参会人员",
        "发送报价单及合同模板",
        "节日问候邮件,附带新功能介绍",
    ),
    "MEETING": (
        "线上会议演示{product},客户提出与现有 ERP 对接的问题",
        "需求调研会议,梳理销售流程和审批节点",
        "方案评审会议,客户 IT 部门参加",
        "商务谈判会议,讨论年度框架协议",
    ),
    "VISIT": (
        "上门拜访{region}客户总部,参观业务现场",
        "到访客户门店,了解一线销售的使用习惯",
        "陪同实施顾问上门,确认数据迁移范围",
    ),
    "WECHAT": (
        "企业微信沟通,解答{product}的权限配置问题",
        "微信发送活动邀请,客户确认参加{region}线下沙龙",
        "通过公众号留言咨询{product}价格",
    ),
    "SOCIAL": (
        "客户在社交媒体评论了我们的案例文章",
        "社交媒体私信咨询{product}",
    ),
    "WEB": (
        "官网表单留资,希望试用{product}",
        "在线客服咨询{product}的部署方式",
        "下载了《客户信息管理白皮书》",
    ),
    "OTHER": (
        "展会现场扫码签到,领取{product}资料",
        "通过渠道合作伙伴转来的咨询",
    ),
}

NEEDS: Final = (
    ("希望统一管理分散在各销售手里的客户资料,避免信息孤岛", "CRM-PRO-SEAT"),
    ("需要从官网表单和微信公众号自动采集线索", "WECHAT-CONN"),
    ("希望按地域、行业、购买力给客户打标签,做精准营销", "MKT-AUTO"),
    ("需要销售漏斗和转化率报表,按月复盘", "BI-REPORT"),
    ("希望自动分配线索并提醒销售跟进", "SFA-MODULE"),
    ("售后工单需要和投诉记录关联,跟踪处理时效", "SVC-DESK"),
    ("需要和现有 ERP 系统通过接口同步订单", "API-PACK"),
    ("老系统里的客户数据重复较多,需要去重和清洗", "DATA-MIG"),
    ("客户手机号和邮箱需要加密存储,并保留操作日志", "CRM-ENT-SEAT"),
    ("希望给一线销售做一次系统培训", "TRAIN-DAY"),
    ("需要批量发送节日关怀短信", "SMS-PACK"),
    ("希望有专人支持,响应时间在 4 小时内", "SUPPORT-GOLD"),
)

COMPLAINT_CATEGORIES: Final = (
    ("产品质量", "系统在高峰期响应很慢,销售录入客户时经常卡顿"),
    ("功能缺陷", "导出的报表金额和系统内统计不一致"),
    ("服务态度", "客服人员回复敷衍,问题没有得到正面回答"),
    ("响应速度", "提交工单三天没有人处理"),
    ("交付延迟", "实施进度比合同约定晚了两周"),
    ("计费账单", "发票金额与合同不符,多收了席位费用"),
    ("数据安全", "发现离职员工账号仍能访问客户资料"),
    ("培训支持", "培训内容过于简单,一线销售仍不会使用"),
)

SEVERITY_WEIGHTS: Final = (("LOW", 35), ("MEDIUM", 34), ("HIGH", 21), ("CRITICAL", 10))

RESOLUTIONS: Final = (
    "已定位性能问题并扩容,客户确认恢复正常",
    "已修正报表口径并重新导出,向客户致歉",
    "更换客户经理并安排回访,客户接受",
    "已补发正确发票并退还多收费用",
    "已停用离职员工账号并开启登录审计",
    "追加两天现场培训,免费提供",
    "调整实施计划,项目经理每周汇报进度",
    "已升级到二线支持处理,问题关闭",
)

ESCALATION_REASONS: Final = (
    "客户要求主管介入",
    "影响客户核心业务,升级二线支持",
    "超过承诺处理时效",
)

SUPPORT_AGENTS: Final = ("support.wang", "support.li", "support.zhao", "support.chen")
"""Who complaints are assigned to (user names, as tokens' subjects would be)."""

REASSIGN_REASONS: Final = (
    "销售区域调整",
    "原负责人离职",
    "客户要求更换对接人",
    "大客户转交重点客户组",
)

SURVEY_COMMENTS: Final = (
    "整体满意,希望报表更灵活",
    "实施顾问很专业",
    "价格偏高,但服务到位",
    "响应速度还需要提升",
    "系统好用,销售团队接受度高",
    None,
    None,
)

LOST_REASONS: Final = (
    "客户选择了竞争对手",
    "预算冻结,项目暂停",
    "决策人离职",
    "价格未谈拢",
)

WIN_BACK_REASONS: Final = (
    "客户重新启动采购项目",
    "竞品试用不理想,客户回来咨询",
    "新的决策人主动联系",
)

BACKWARD_REASONS: Final = (
    "客户要求调整方案范围,重新评估需求",
    "客户更换对接人,需要重新确认需求",
)

FORGET_REASONS: Final = (
    "客户依据《个人信息保护法》申请删除个人信息",
    "客户注销账户并要求删除全部个人数据",
)

CONSENT_PURPOSES: Final = ("marketing", "newsletter", "phone-survey")
