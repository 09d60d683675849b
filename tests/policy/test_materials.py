"""policy.md §4: what a complete request carries, and how supplied materials are counted."""

from __future__ import annotations

import pytest

from backend.policy.engine import missing_materials
from backend.vocab import Decision, MaterialCode, OrderStatus, Reason

from tests.policy.conftest import complete_materials, spec_materials, supplied

M = MaterialCode


@pytest.fixture
def missing(policy, make_item, make_order):
    """The missing codes of a delivered item (or an order in `status`) given what was supplied."""

    def run(reason, materials=(), *, flags=(), status=OrderStatus.DELIVERED):
        item = make_item(flags=flags)
        order = make_order(status, items=[item])
        return missing_materials(policy, order, item, Reason(reason), tuple(materials))

    return run


@pytest.mark.parametrize("reason", [r for r in Reason], ids=lambda r: f"reason {r}")
def test_with_nothing_supplied_every_material_of_the_reason_is_missing(reason, missing) -> None:
    assert sorted(m.code for m in missing(reason)) == sorted(spec_materials(reason))


@pytest.mark.parametrize("reason", [r for r in Reason], ids=lambda r: f"reason {r}")
def test_with_every_material_supplied_nothing_is_missing(reason, missing) -> None:
    assert missing(reason, complete_materials(reason)) == []


def test_a_functional_item_with_a_quality_problem_also_needs_a_defect_video(missing) -> None:
    codes = [m.code for m in missing("quality", flags=["functional"])]

    assert sorted(codes) == sorted([M.DESCRIPTION, M.DEFECT_PHOTO, M.DEFECT_VIDEO])


@pytest.mark.parametrize("reason", [r for r in Reason if r != Reason.QUALITY], ids=lambda r: f"reason {r}")
def test_a_functional_item_needs_no_video_for_other_reasons(reason, missing) -> None:
    assert M.DEFECT_VIDEO not in [m.code for m in missing(reason, flags=["functional"])]


def test_each_missing_material_carries_its_label_hint_and_minimum_count(policy, missing) -> None:
    for material in missing("not_as_described"):
        spec = policy.materials[material.code]
        assert (material.label, material.hint, material.min_count, material.have_count) == \
               (spec.label, spec.hint, spec.min_count, 0)


@pytest.mark.parametrize("reason", [r for r in Reason], ids=lambda r: f"reason {r}")
def test_the_return_tracking_number_is_never_asked_before_approval(reason, missing) -> None:
    assert M.RETURN_TRACKING not in [m.code for m in missing(reason, flags=["functional", "sealed_hygiene"])]


# --- no_reason and sealed goods --------------------------------------------------------------------


@pytest.mark.parametrize("seal_intact", [None, False], ids=["seal not stated", "seal broken"])
def test_a_sealed_item_confirmation_counts_only_with_the_seal_unbroken(seal_intact, missing) -> None:
    result = missing("no_reason", [supplied("intact_confirmation", seal_intact=seal_intact)], flags=["sealed_hygiene"])

    assert [m.code for m in result] == [M.INTACT_CONFIRMATION]


def test_a_sealed_item_confirmation_with_the_seal_unbroken_is_complete(missing) -> None:
    assert missing("no_reason", [supplied("intact_confirmation", seal_intact=True)], flags=["sealed_hygiene"]) == []


def test_a_sealed_item_asks_for_a_confirmation_that_names_the_seal(policy, missing) -> None:
    [confirmation] = missing("no_reason", flags=["sealed_hygiene"])

    assert confirmation.label == policy.sealed_confirmation_label
    assert confirmation.label != policy.materials[M.INTACT_CONFIRMATION].label
    assert "封" in confirmation.label


def test_an_unsealed_item_confirmation_counts_without_a_seal_statement(missing) -> None:
    assert missing("no_reason", [supplied("intact_confirmation", seal_intact=None)]) == []


# --- description length ----------------------------------------------------------------------------


DESCRIPTIONS = [
    # (unit, offset from min_chars, padding, counts?)
    pytest.param("a", -1, "", False, id="latin one short"),
    pytest.param("a", 0, "", True, id="latin at the minimum"),
    pytest.param("质", -1, "", False, id="CJK one short"),
    pytest.param("质", 0, "", True, id="CJK at the minimum"),
    pytest.param("👍", -1, "", False, id="emoji one short though longer in UTF-16 and bytes"),
    pytest.param("👍", 0, "", True, id="emoji at the minimum"),
    pytest.param("质", -1, "   ", False, id="surrounding spaces do not count"),
    pytest.param("质", -1, "\u3000", False, id="surrounding ideographic spaces do not count"),
    pytest.param("质", -1, "\n\t", False, id="surrounding newlines and tabs do not count"),
    pytest.param("质", 0, "  ", True, id="trimmed text at the minimum counts"),
]


@pytest.mark.parametrize(("unit", "offset", "pad", "counts"), DESCRIPTIONS)
def test_a_description_counts_code_points_after_trimming(unit, offset, pad, counts, policy, missing) -> None:
    text = pad + unit * (policy.materials[M.DESCRIPTION].min_chars + offset) + pad

    result = missing("other", [supplied("description", text=text)])

    assert (result == []) is counts


def test_inner_white_space_counts_toward_the_description(policy, missing) -> None:
    n = policy.materials[M.DESCRIPTION].min_chars
    text = "质" + " " * (n - 2) + "量"  # n code points, the inner ones spaces

    assert missing("other", [supplied("description", text=text)]) == []


def test_a_description_of_only_white_space_does_not_count(policy, missing) -> None:
    text = " " * (policy.materials[M.DESCRIPTION].min_chars + 5)

    assert [m.code for m in missing("other", [supplied("description", text=text)])] == [M.DESCRIPTION]


# --- the kind of file behind a material ------------------------------------------------------------


def test_a_video_supplied_as_the_defect_photo_does_not_count(missing) -> None:
    materials = [supplied("description"), supplied("defect_photo", kind="video")]

    assert [m.code for m in missing("quality", materials)] == [M.DEFECT_PHOTO]


def test_a_photo_supplied_as_the_defect_video_does_not_count(missing) -> None:
    materials = [supplied("description"), supplied("defect_photo"), supplied("defect_video", kind="image")]

    assert [m.code for m in missing("quality", materials, flags=["functional"])] == [M.DEFECT_VIDEO]


# --- requests that need nothing ---------------------------------------------------------------------


@pytest.mark.parametrize("reason", [r for r in Reason], ids=lambda r: f"reason {r}")
def test_a_request_on_an_unshipped_order_needs_no_materials(reason, missing) -> None:
    assert missing(reason, flags=["functional", "sealed_hygiene"], status=OrderStatus.PAID) == []


@pytest.mark.parametrize("status", [OrderStatus.SHIPPED, OrderStatus.DELIVERED])
def test_not_received_needs_no_materials(status, missing) -> None:
    assert missing("not_received", status=status) == []


def test_an_unshipped_refund_is_approved_without_any_material(make_order, make_request, decide) -> None:
    body = decide(make_request(make_order(OrderStatus.PAID), "quality", "refund_only"))

    assert body.decision == Decision.ELIGIBLE
    assert body.missing_materials == []


# --- never ask again --------------------------------------------------------------------------------


def test_materials_already_supplied_are_not_asked_again(missing) -> None:
    materials = [supplied("package_photo"), supplied("waybill_photo")]

    assert [m.code for m in missing("damaged_in_transit", materials)] == [M.DEFECT_PHOTO]


def test_two_photos_of_one_code_do_not_cover_another_code(missing) -> None:
    materials = [supplied("item_photo"), supplied("item_photo")]

    assert [m.code for m in missing("wrong_item", materials)] == [M.LABEL_PHOTO]


def test_a_material_of_another_code_does_not_stand_in_for_a_missing_one(missing) -> None:
    materials = [supplied("defect_photo"), supplied("item_photo")]

    assert sorted(m.code for m in missing("missing_item", materials)) == sorted([M.CONTENTS_PHOTO, M.WAYBILL_PHOTO])


def test_an_invalid_description_next_to_a_valid_photo_leaves_only_the_description_missing(policy, missing) -> None:
    short = "质" * (policy.materials[M.DESCRIPTION].min_chars - 1)

    result = missing("quality", [supplied("description", text=short), supplied("defect_photo")])

    assert [m.code for m in result] == [M.DESCRIPTION]
    assert result[0].have_count == 0
