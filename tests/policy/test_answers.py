"""FAQ answers follow the policy file: change a number there and the answer changes with it."""

from __future__ import annotations

from backend.policy.answers import policy_answers
from backend.policy.config import Policy


def test_answers_quote_the_windows_of_the_policy_file(policy: Policy) -> None:
    answers = policy_answers(policy)
    q7, q15 = policy.rule("R-QUALITY-7").max_days, policy.rule("R-QUALITY-15").max_days
    assert f"{q7}到{q15}天内" in answers["warranty_repair"]
    assert f"{policy.deadlines['refund_after_receipt'].calendar_days}天内完成退款" in answers["refund_time"]


def test_an_edited_window_changes_the_answer(policy: Policy) -> None:
    rules = dict(policy.rules)
    rules["R-7DAY"] = policy.rule("R-7DAY").model_copy(update={"max_days": 15})
    edited = policy.model_copy(update={"rules": rules})
    assert "签收后15天内" in policy_answers(edited)["seven_day"]
    assert "签收后15天内" not in policy_answers(policy)["seven_day"]


def test_every_excluded_flag_is_named_in_the_excluded_goods_answer(policy: Policy) -> None:
    answer = policy_answers(policy)["excluded_goods"]
    for word in ("定制", "鲜活易腐", "数字化商品", "报纸", "不适用七天无理由"):
        assert word in answer
