"""The Rasa server as we run it (bot_runtime, our NLU components): cheaper, same answers."""

from __future__ import annotations

import json
import subprocess

import httpx

from tests.support.stack import ROOT, Stack

# Runs in the Rasa venv (Python 3.10): Rasa's own validation and ours judge the same replies alike.
SAME_VERDICTS = r"""
import json, sys
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from bot_runtime import patches

replies = json.loads(sys.argv[1])
action = RemoteAction("action_x", None)
original = RemoteAction._validate_action_result

def verdict(validate):
    out = []
    for reply in replies:
        try:
            out.append(["ok", validate(action, reply)])
        except ValidationError as error:
            out.append(["error", error.message])
    return out

before = verdict(original)
patches.apply()
after = verdict(RemoteAction._validate_action_result)
print(json.dumps({"before": before, "after": after, "patched": RemoteAction._validate_action_result is not original}))
"""

REPLIES = [
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "case_id", "value": "AS2611220123456"}],
     "responses": [{"text": "已为您提交售后申请", "buttons": [{"title": "确认", "payload": "/affirm"}]}]},
    {"events": [{"event": "followup", "name": "aftersales_form"}, {"event": "active_loop", "name": None}]},
    {"events": "not a list"},
    {"events": [{"event": "no_such_event"}]},
    {"events": [{"name": "case_id"}]},
    {"responses": ["a string, not an object"]},
    ["not", "an", "object"],
]


def _in_rasa_venv(script: str, *args: str) -> str:
    """Runs a script in the Rasa venv (Python 3.10); its last line of output."""
    done = subprocess.run([str(ROOT / ".venv-bot/bin/python"), "-c", script, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120,
                          env={"PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


def test_the_cached_action_reply_validator_judges_every_reply_like_rasas_own() -> None:
    result = json.loads(_in_rasa_venv(SAME_VERDICTS, json.dumps(REPLIES)))
    assert result["patched"]
    assert result["after"] == result["before"]
    assert [kind for kind, _ in result["after"]] == ["ok"] * 3 + ["error"] * 5
    assert all("Failed to validate Action server response" in message for _, message in result["after"][3:])


# The intent classifier's fast probabilities equal sklearn's predict_proba on a calibrated LinearSVC.
SAME_PROBABILITIES = r"""
import numpy as np, scipy.sparse as sp
from sklearn.calibration import CalibratedClassifierCV
from sklearn.svm import LinearSVC
from nlu_components.linear_intent_classifier import calibrated_probabilities

rng = np.random.default_rng(7)
features = sp.csr_matrix(rng.random((300, 40)) * (rng.random((300, 40)) > 0.7))
labels = rng.integers(0, 6, 300)
classifier = CalibratedClassifierCV(LinearSVC(C=0.5, class_weight="balanced"), method="sigmoid", cv=5)
classifier.fit(features, labels)
probe = sp.vstack([features[:50], sp.csr_matrix((1, 40))]).tocsr()
assert np.allclose(calibrated_probabilities(classifier, probe), classifier.predict_proba(probe), atol=1e-12)
print("same")
"""


def test_the_intent_classifiers_fast_probabilities_are_sklearns() -> None:
    assert _in_rasa_venv(SAME_PROBABILITIES) == "same"


def _parse(stack: Stack, text: str) -> dict:  # type: ignore[type-arg]
    response = httpx.post(f"{stack.rasa_url}/model/parse", params={"token": stack.rasa_token},
                          json={"text": text}, timeout=30)
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


def test_the_faq_answer_is_selected_for_policy_questions_only(stack: Stack) -> None:
    question = _parse(stack, "七天无理由退货怎么算？")
    assert question["intent"]["name"] == "ask_policy"
    selected = question["response_selector"]["ask_policy"]["response"]
    assert selected["intent_response_key"] == "ask_policy/seven_day" and selected["responses"]

    for text in ("你好", "订单2026111812345678的鞋子开胶了，想换一双", "我的退款到哪了"):
        parsed = _parse(stack, text)
        assert parsed["intent"]["name"] != "ask_policy"
        assert "ask_policy" not in parsed.get("response_selector", {}), text


def test_nonsense_gets_no_intent_while_a_plain_request_is_understood_with_confidence(stack: Stack) -> None:
    # The linear intent classifier's calibrated confidences keep the FallbackClassifier meaningful.
    for text in ("阿巴阿巴阿巴", "喵喵喵", "🙃🙃🙃"):
        assert _parse(stack, text)["intent"]["name"] == "nlu_fallback", text

    parsed = _parse(stack, "订单2026111812345678的鞋子开胶了，想换一双")
    assert parsed["intent"]["name"] == "request_aftersales" and parsed["intent"]["confidence"] >= 0.8
    assert sum(i["confidence"] for i in parsed["intent_ranking"]) <= 1.0 + 1e-6
    found = {(e["entity"], e["value"]) for e in parsed["entities"]}
    assert {("order_id", "2026111812345678"), ("reason", "quality"), ("remedy", "exchange")} <= found
