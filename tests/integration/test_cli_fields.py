"""`crm fields define|list|retire` on the real database, run as the `crm` process: the
definitions go through the catalog's rules, a refusal exits 1 with its code and field,
and a customer's values are then judged against what the CLI defined."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from aggregates.errors import DomainError
from commands.application import CrmApplication
from commands.crypto import generate_master_key
from commands.messages import CommandContext, RegisterCustomer, SetCustomFields
from commands.service import CommandService
from ops.stack import crm_command

pytestmark = pytest.mark.integration


def crm(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        crm_command(*args), env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )


def test_fields_are_defined_listed_and_retired_by_the_cli(
    database_url: str, tmp_path: Path
) -> None:
    key = generate_master_key()
    env = {"CRM_DATABASE_URL": database_url, "CRM_MASTER_KEY": key, "CRM_DATA_DIR": str(tmp_path)}
    empty = crm("fields", "list", env=env)
    assert empty.returncode == 0 and "no custom fields" in empty.stdout
    made = crm("fields", "define", "segment", "--label", "行业细分", "--type", "single_choice",
               "-c", "制造", "-c", "零售", "--required", env=env)  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "defined segment" in made.stdout
    dated = crm("fields", "define", "contract_end", "-l", "合同到期日", "-t", "DATE", env=env)
    assert dated.returncode == 0, dated.stderr
    bad = crm("fields", "define", "Bad Key", "-l", "x", "-t", "TEXT", env=env)
    assert bad.returncode == 1 and "VALIDATION key" in bad.stderr
    listed = crm("fields", "list", env=env).stdout.splitlines()
    assert listed == [
        "segment\tSINGLE_CHOICE\trequired\t行业细分\t制造|零售",
        "contract_end\tDATE\t-\t合同到期日\t",
    ]
    assert crm("fields", "retire", "contract_end", env=env).returncode == 0
    again = crm("fields", "retire", "contract_end", env=env)
    assert again.returncode == 1 and "RULE key" in again.stderr
    assert [line.split("\t")[0] for line in crm("fields", "list", env=env).stdout.splitlines()] == [
        "segment"
    ]
    assert "retired" in crm("fields", "list", "--retired", env=env).stdout
    sheet = tmp_path / "customers.csv"
    # A row without the column's value registers without custom fields (`required` binds
    # writes of custom fields only); a value not among the choices is refused by its line.
    sheet.write_text("姓名,细分\n甲公司,零售\n乙公司,\n丙公司,农业\n", encoding="utf-8")
    imported = crm("import", "customers", str(sheet), "--map", "细分=custom:segment", env=env)
    assert imported.returncode == 1, imported.stderr  # a row refused: not everything went in
    assert "line 4: refused VALIDATION customFields.segment" in imported.stdout
    assert "2 imported" in imported.stdout

    app = CrmApplication(database_url, master_key=key, pool_size=2)
    try:
        service, context = CommandService(app), CommandContext(actor="test")
        customer = service.handle(RegisterCustomer(name="CLI Field"), context).customer_id
        with pytest.raises(DomainError) as refused:
            service.handle(
                SetCustomFields(customer_id=customer, values=(("contract_end", "2026-01-01"),)),
                context,
            )
        assert (refused.value.code, refused.value.field) == ("RULE", "customFields.contract_end")
        with pytest.raises(DomainError) as missing:
            service.handle(SetCustomFields(customer_id=customer, values=()), context)
        assert missing.value.field == "customFields.segment"
        service.handle(
            SetCustomFields(customer_id=customer, values=(("segment", "零售"),)), context
        )
        loaded = app.repository.get(customer)
        assert loaded.custom_values_now() == {"segment": "零售"}
    finally:
        app.close()
