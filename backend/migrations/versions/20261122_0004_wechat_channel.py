"""WeChat Official Account channel: openid bindings, bind attempts, seen message ids and nonces,
shared access tokens; the order's receiver phone tail

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 03:22:20.003235
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: Union[str, None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('wechat_access_tokens',
    sa.Column('app_id', sa.String(length=32), nullable=False),
    sa.Column('token', sa.String(length=512), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('refreshing_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('app_id', name=op.f('pk_wechat_access_tokens'))
    )
    op.create_table('wechat_bind_attempts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('openid', sa.String(length=64), nullable=False),
    sa.Column('order_id', sa.String(length=16), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wechat_bind_attempts'))
    )
    with op.batch_alter_table('wechat_bind_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_wechat_bind_attempts_openid_at', ['openid', 'at'], unique=False)
        batch_op.create_index('ix_wechat_bind_attempts_order_at', ['order_id', 'at'], unique=False)

    op.create_table('wechat_seen',
    sa.Column('account', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=True),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('account', 'key', name=op.f('pk_wechat_seen'))
    )
    with op.batch_alter_table('wechat_seen', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_wechat_seen_seen_at'), ['seen_at'], unique=False)

    op.create_table('wechat_users',
    sa.Column('openid', sa.String(length=64), nullable=False),
    sa.Column('account', sa.String(length=32), nullable=False),
    sa.Column('buyer_id', sa.String(length=64), nullable=True),
    sa.Column('bound_order_id', sa.String(length=16), nullable=True),
    sa.Column('bound_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('openid', name=op.f('pk_wechat_users'))
    )
    with op.batch_alter_table('wechat_users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_wechat_users_buyer_id'), ['buyer_id'], unique=False)

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('receiver_phone_tail', sa.String(length=4), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('receiver_phone_tail')

    with op.batch_alter_table('wechat_users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_wechat_users_buyer_id'))

    op.drop_table('wechat_users')
    with op.batch_alter_table('wechat_seen', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_wechat_seen_seen_at'))

    op.drop_table('wechat_seen')
    with op.batch_alter_table('wechat_bind_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_wechat_bind_attempts_order_at')
        batch_op.drop_index('ix_wechat_bind_attempts_openid_at')

    op.drop_table('wechat_bind_attempts')
    op.drop_table('wechat_access_tokens')