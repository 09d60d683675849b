"""backend/policy/config.py: the shipped policy file loads, and a bad one is refused with a
message that names the offending field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from backend.policy.config import DEADLINE_STEPS, RULE_REQUIREMENTS, PolicyFileError, load_policy
from backend.settings import DEFAULT_POLICY_FILE
from backend.vocab import MaterialCode, Reason, Remedy

SPEC_RULE_IDS = {
    "R-CASE-LIMIT", "R-UNSHIPPED", "R-TRANSIT-LATE", "R-TRANSIT-WAIT", "R-SIGNED-NOT-RECEIVED", "R-PERISHABLE",
    "R-7DAY-EXCLUDED", "R-7DAY-LATE", "R-7DAY", "R-QUALITY-7", "R-QUALITY-15", "R-QUALITY-WARRANTY",
    "R-QUALITY-PAID", "R-MISMATCH", "R-DAMAGED", "R-MISSING", "R-LATE", "R-OTHER",
}


@pytest.fixture
def raw() -> dict:
    """The shipped file as plain data, to spoil one field at a time."""
    return yaml.safe_load(DEFAULT_POLICY_FILE.read_text(encoding="utf-8"))


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def refusal(path: Path) -> str:
    with pytest.raises(PolicyFileError) as refused:
        load_policy(path)
    return str(refused.value)


# --- the shipped file --------------------------------------------------------------------------------


def test_the_shipped_file_loads_with_every_rule_of_the_spec(policy) -> None:
    assert set(policy.rules) == SPEC_RULE_IDS
    assert policy.version
    assert str(policy.tz) == "Asia/Shanghai"
    assert policy.currency == "CNY"


def test_the_shipped_file_knows_every_reason_remedy_and_material_code(policy) -> None:
    assert set(policy.reasons) == set(Reason)
    assert set(policy.remedies) == set(Remedy)
    assert set(policy.materials) == set(MaterialCode)
    assert all(spec.label for spec in policy.materials.values())


def test_the_shipped_file_gives_a_deadline_for_each_step(policy) -> None:
    assert set(policy.deadlines) >= set(DEADLINE_STEPS)


def test_a_written_copy_of_the_shipped_file_loads_the_same(tmp_path, raw, policy) -> None:
    assert load_policy(write(tmp_path, raw)) == policy


def test_reason_faults_match_the_vocabulary_table(policy) -> None:
    faults = {reason: spec.fault for reason, spec in policy.reasons.items()}

    assert faults == {
        Reason.NO_REASON: "buyer", Reason.QUALITY: "seller", Reason.NOT_AS_DESCRIBED: "seller",
        Reason.WRONG_ITEM: "seller", Reason.DAMAGED_IN_TRANSIT: "seller", Reason.MISSING_ITEM: "seller",
        Reason.NOT_RECEIVED: "seller", Reason.OTHER: "none",
    }


def test_only_return_refund_exchange_and_repair_have_a_return_leg(policy) -> None:
    assert {code for code, spec in policy.remedies.items() if spec.return_leg} == \
        {Remedy.RETURN_REFUND, Remedy.EXCHANGE, Remedy.REPAIR}


# --- bad files ---------------------------------------------------------------------------------------


def test_a_missing_rule_is_refused_naming_the_rule(tmp_path, raw) -> None:
    del raw["rules"]["R-7DAY"]

    message = refusal(write(tmp_path, raw))

    assert "rules" in message and "R-7DAY" in message


def test_a_rule_without_a_field_it_needs_is_refused_naming_both(tmp_path, raw) -> None:
    del raw["rules"]["R-TRANSIT-LATE"]["stale_logistics_days"]

    message = refusal(write(tmp_path, raw))

    assert "rules.R-TRANSIT-LATE" in message and "stale_logistics_days" in message


def test_an_unknown_rule_id_is_refused_naming_it(tmp_path, raw) -> None:
    raw["rules"]["R-14DAY"] = {"remedies": ["exchange"], "max_days": 14, "basis": "十四天"}

    assert "R-14DAY" in refusal(write(tmp_path, raw))


def test_an_unknown_remedy_code_is_refused_naming_the_field(tmp_path, raw) -> None:
    raw["rules"]["R-7DAY"]["remedies"] = ["return_refund", "refund_everything"]

    assert "rules.R-7DAY.remedies.1" in refusal(write(tmp_path, raw))


def test_an_unknown_material_code_in_a_required_list_is_refused_naming_the_field(tmp_path, raw) -> None:
    raw["required_materials"]["quality"] = ["description", "invoice"]

    assert "required_materials.quality.1" in refusal(write(tmp_path, raw))


def test_a_value_of_the_wrong_type_is_refused_naming_the_field(tmp_path, raw) -> None:
    raw["rules"]["R-7DAY"]["max_days"] = "seven"

    assert "rules.R-7DAY.max_days" in refusal(write(tmp_path, raw))


def test_a_threshold_that_is_not_a_number_is_refused_naming_the_field(tmp_path, raw) -> None:
    raw["review"]["amount_threshold"] = "five thousand"

    assert "review.amount_threshold" in refusal(write(tmp_path, raw))


def test_two_spans_on_one_deadline_are_refused_naming_the_deadline(tmp_path, raw) -> None:
    raw["deadlines"]["review"]["hours"] = 24

    message = refusal(write(tmp_path, raw))

    assert "deadlines.review" in message and "exactly one" in message


def test_a_deadline_with_no_span_is_refused_naming_the_deadline(tmp_path, raw) -> None:
    del raw["deadlines"]["inspect"]["working_days"]

    assert "deadlines.inspect" in refusal(write(tmp_path, raw))


def test_a_missing_deadline_step_is_refused_naming_it(tmp_path, raw) -> None:
    del raw["deadlines"]["ship_return"]

    assert "ship_return" in refusal(write(tmp_path, raw))


def test_an_unknown_key_in_a_rule_is_refused_naming_it(tmp_path, raw) -> None:
    raw["rules"]["R-7DAY"]["maxdays"] = 7

    assert "rules.R-7DAY.maxdays" in refusal(write(tmp_path, raw))


def test_an_unknown_top_level_key_is_refused_naming_it(tmp_path, raw) -> None:
    raw["refund_policy"] = "generous"

    assert "refund_policy" in refusal(write(tmp_path, raw))


def test_an_unknown_time_zone_is_refused_naming_the_field(tmp_path, raw) -> None:
    raw["timezone"] = "Asia/Atlantis"

    assert "timezone" in refusal(write(tmp_path, raw))


def test_mismatch_tiers_out_of_order_are_refused(tmp_path, raw) -> None:
    raw["rules"]["R-MISMATCH"]["tiers"].reverse()

    assert "rules.R-MISMATCH.tiers" in refusal(write(tmp_path, raw))


def test_a_file_that_is_not_yaml_is_refused_as_such(tmp_path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("rules: [R-7DAY\n  max_days: : 7\n", encoding="utf-8")

    message = refusal(path)

    assert "not valid YAML" in message and str(path) in message


def test_a_file_that_is_yaml_but_not_a_mapping_is_refused(tmp_path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("- just\n- a list\n", encoding="utf-8")

    assert "mapping" in refusal(path)


def test_a_missing_file_is_refused_naming_the_path(tmp_path) -> None:
    path = tmp_path / "nowhere" / "policy.yaml"

    message = refusal(path)

    assert "not found" in message and str(path) in message


def test_the_engine_requirements_cover_exactly_the_spec_rules() -> None:
    assert set(RULE_REQUIREMENTS) == SPEC_RULE_IDS
