"""match calibrations may carry refitted logistic-regression weights

``signal-pipeline matching calibrate`` refits the duplicate model's weights, shrunk toward the shipped ones, when
the deployment has enough labels; the newest calibration's weights (null: the shipped weights) are then used.

Revision ID: 0015_calibration_weights
Revises: 0014_report_waiting_index
Create Date: 2026-12-06 04:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015_calibration_weights'
down_revision: str | None = '0014_report_waiting_index'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('match_calibrations') as batch:
        batch.add_column(sa.Column('coef', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('match_calibrations') as batch:
        batch.drop_column('coef')
