"""Automatic alerts of the refund-process standard (seed 002 §8): reviews that take too long, and a
SKU whose refund rate is abnormal. Every threshold comes from `stats.alerts` in policy.yaml.

Alerts always describe the present, whatever range the page shows: the last `window_days` up to
now, and the reviews waiting right now. A supervisor looking at last quarter still sees today's fires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from backend.db.models import Case, Order, OrderItem
from backend.policy.config import Policy
from backend.schemas.stats import Alert
from backend.stats.queries import Window, percentile, reviews_decided, reviews_pending

LEVEL_ORDER = {"critical": 0, "warning": 1}


def _pct(value: Fraction | float) -> str:
    return f"{float(value) * 100:.1f}%"


def review_time_alerts(session: Session, policy: Policy, now: datetime) -> list[Alert]:
    spec = policy.stats.alerts.review_time
    alerts: list[Alert] = []
    hours = [r.hours for r in reviews_decided(session, Window.last_days(now, spec.window_days))]
    if len(hours) >= spec.min_reviews:
        avg = sum(hours) / len(hours)
        tail = percentile(hours, spec.percentile) or 0.0
        worst = max(avg, tail)
        if worst > spec.standard_hours:
            critical = worst > spec.hard_hours
            limit = spec.hard_hours if critical else spec.standard_hours
            alerts.append(Alert(
                kind="review_time", level="critical" if critical else "warning",
                title="审核时长超过上限" if critical else "审核时长超过标准",
                message=(f"近{spec.window_days}天共审核{len(hours)}笔，平均用时{avg:.1f}小时，"
                         f"{spec.percentile}%的审核在{tail:.1f}小时内完成，"
                         + (f"超过{spec.hard_hours}小时的最长时限" if critical
                            else f"超过{spec.standard_hours}小时内完成审批的标准")),
                value=round(worst, 2), threshold=limit, window_days=spec.window_days))
    waiting = [(p.case_id, p.hours(now)) for p in reviews_pending(session)]
    over_standard = [(c, h) for c, h in waiting if h > spec.standard_hours]
    if over_standard:
        over_hard = [(c, h) for c, h in over_standard if h > spec.hard_hours]
        oldest = max(h for _, h in over_standard)
        message = f"{len(over_standard)}笔售后申请已等待审核超过{spec.standard_hours}小时"
        if over_hard:
            message += f"，其中{len(over_hard)}笔超过{spec.hard_hours}小时"
        alerts.append(Alert(
            kind="pending_review", level="critical" if over_hard else "warning",
            title="待审核申请积压", message=message + f"，最久已等待{oldest:.0f}小时，请尽快处理",
            value=round(oldest, 2), threshold=spec.hard_hours if over_hard else spec.standard_hours,
            case_ids=[c for c, _ in sorted(over_standard, key=lambda x: -x[1])][:20]))
    return alerts


@dataclass(frozen=True, slots=True)
class SkuRate:
    sku: str
    title: str
    orders: int
    refunds: int

    @property
    def rate(self) -> Fraction:
        return Fraction(self.refunds, self.orders) if self.orders else Fraction(0)


def sku_refund_rates(session: Session, policy: Policy, window: Window) -> tuple[list[SkuRate], Fraction]:
    """Per SKU: orders paid in the window, and refund requests filed in the window (distinct orders,
    refund remedies, excluded statuses left out); plus the platform's rate over every SKU."""
    spec = policy.stats.alerts.sku_refund_rate
    orders = {sku: (n, title) for sku, n, title in session.execute(
        select(OrderItem.sku, func.count(func.distinct(Order.order_id)), func.max(OrderItem.title))
        .select_from(OrderItem).join(Order, Order.order_id == OrderItem.order_id)
        .where(window.has(Order.paid_at)).group_by(OrderItem.sku))}
    refunds = dict(session.execute(
        select(OrderItem.sku, func.count(func.distinct(Case.order_id)))
        .select_from(Case)
        .join(OrderItem, and_(OrderItem.order_id == Case.order_id, OrderItem.item_id == Case.item_id))
        .where(window.has(Case.filed_at), Case.remedy.in_([r.value for r in spec.refund_remedies]),
               Case.status.not_in([s.value for s in spec.exclude_statuses] or [""]))
        .group_by(OrderItem.sku)).all())
    rates = [SkuRate(sku, title, n, refunds.get(sku, 0)) for sku, (n, title) in orders.items()]
    total_orders = sum(r.orders for r in rates)
    platform = Fraction(sum(r.refunds for r in rates), total_orders) if total_orders else Fraction(0)
    return rates, platform


def sku_refund_alerts(session: Session, policy: Policy, now: datetime) -> list[Alert]:
    spec = policy.stats.alerts.sku_refund_rate
    rates, platform = sku_refund_rates(session, policy, Window.last_days(now, spec.window_days))
    warning, critical = Fraction(spec.rate_warning), Fraction(spec.rate_critical)
    multiple = Fraction(spec.platform_multiple)
    alerts = []
    for r in sorted(rates, key=lambda r: (-r.rate, r.sku)):
        if r.orders < spec.min_orders or r.rate < warning or r.rate < multiple * platform:
            continue
        times = f"（{float(r.rate / platform):.1f}倍）" if platform else ""
        alerts.append(Alert(
            kind="sku_refund_rate", level="critical" if r.rate >= critical else "warning",
            title=f"退款率异常：{r.title}",
            message=(f"商品 {r.sku} 近{spec.window_days}天{r.orders}笔订单中{r.refunds}笔申请退款，"
                     f"退款率{_pct(r.rate)}，平台平均{_pct(platform)}{times}，请核查商品质量与描述"),
            value=round(float(r.rate), 4), threshold=float(max(warning, multiple * platform)),
            window_days=spec.window_days, sku=r.sku, title_of_sku=r.title))
    return alerts


def current_alerts(session: Session, policy: Policy, now: datetime) -> list[Alert]:
    """Every alert that holds now, red before amber."""
    alerts = review_time_alerts(session, policy, now) + sku_refund_alerts(session, policy, now)
    return sorted(alerts, key=lambda a: LEVEL_ORDER[a.level])
