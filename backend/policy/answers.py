"""Answers to buyers' policy questions, written from the policy file's own numbers, so the bot's
FAQ can never disagree with the decisions the engine makes."""

from __future__ import annotations

from backend.policy.config import Policy
from backend.vocab import ItemFlag, MaterialCode, Reason

FLAG_LABELS = {
    ItemFlag.CUSTOM_MADE: "定制商品",
    ItemFlag.PERISHABLE: "鲜活易腐商品（生鲜、鲜花等）",
    ItemFlag.DIGITAL_CONTENT: "在线下载或已拆封的音像制品、软件等数字化商品",
    ItemFlag.PERIODICAL: "报纸、期刊",
    ItemFlag.NO_7DAY_RETURN: "购买时已确认不适用七天无理由退货的商品",
}


def _materials(policy: Policy, reason: Reason, extra: str = "") -> str:
    labels = "、".join(policy.materials[c].label for c in policy.required_materials[reason])
    return labels + extra


def policy_answers(policy: Policy) -> dict[str, str]:
    """One Chinese answer per FAQ topic (the sub-intents of the bot's ask_policy)."""
    r = policy.rules
    seven = r["R-7DAY"].max_days
    q7, q15 = r["R-QUALITY-7"].max_days, r["R-QUALITY-15"].max_days
    excluded = "、".join(FLAG_LABELS[f] for f in r["R-7DAY-EXCLUDED"].flags if f in FLAG_LABELS)
    d = policy.deadlines
    perishable_days = r["R-PERISHABLE"].max_days
    video = policy.materials[MaterialCode.DEFECT_VIDEO].label
    return {
        "seven_day": (f"签收后{seven}天内（从签收次日起算），商品完好、不影响二次销售的，可以申请七天无理由退货或换货。"
                      f"超过{seven}天就不再支持无理由退货了，但质量问题仍可以申请售后。"),
        "excluded_goods": (f"以下商品不支持七天无理由退货：{excluded}。化妆品、食品等密封商品需要封口完好。"
                           f"这些商品如果有质量问题，照样可以申请售后；生鲜请在签收{perishable_days}天内反馈。"),
        "return_shipping_fee": ("质量问题、发错货、与描述不符、运输破损等商家原因的退货、换货和保修期内维修，"
                                "寄回的运费由商家承担；七天无理由退换货的运费由您承担，买了运费险的由运费险赔付；"
                                "过保付费维修的来回运费由您承担。换货和维修后寄给您的运费由商家承担。"
                                "整单全部退回且不是您的原因时，原订单运费也会一起退还。"),
        "refund_time": (f"仅退款审核通过后{d['refund_only_refund'].hours}小时内原路退回；"
                        f"退货退款在商家收到退货后{d['refund_after_receipt'].calendar_days}天内完成退款。"
                        "退款会退回到您付款时使用的账户，优惠券、红包等优惠按比例扣除。"),
        "intact_condition": ("“商品完好”指吊牌、包装、配件齐全，不影响二次销售。正常试穿、查看商品没有关系；"
                             "吊牌剪掉、明显穿着使用过、密封包装已拆封的，就不能七天无理由退货了。"),
        "warranty_repair": (f"签收{q7}天内出现质量问题可以退货、换货或维修；{q7}到{q15}天内可以换货或维修；"
                            f"之后在商品保修期内免费维修，过了保修期可以付费维修（先确认报价）。"
                            f"商家会在{d['repair_first_reply'].working_days}个工作日内答复，"
                            f"确认故障后{d['repair_finish'].working_days}个工作日内修好。"),
        "materials_needed": (f"质量问题需要：{_materials(policy, Reason.QUALITY)}（电器、数码等还需要{video}）；"
                             f"与描述不符需要：{_materials(policy, Reason.NOT_AS_DESCRIBED)}；"
                             f"发错货需要：{_materials(policy, Reason.WRONG_ITEM)}；"
                             f"运输破损需要：{_materials(policy, Reason.DAMAGED_IN_TRANSIT)}；"
                             f"漏发少件需要：{_materials(policy, Reason.MISSING_ITEM)}；"
                             "七天无理由只需确认商品完好；没收到货、还没发货的不需要任何材料，系统会自己查物流。"
                             "平台订单本身就是购买凭证，不需要发票。"
                             f"缺少的凭证请在{d['supply_materials'].calendar_days}天内补齐。"),
    }
