"""``/api/budgets``: the caller's monthly spend budgets (their own and per API key), and
``/api/usage/spend``: this month's spend, projection and budgets with their alerts."""

from __future__ import annotations

from fastapi import APIRouter, status

from flowllama.api.deps import CurrentUser, DbSession
from flowllama.db.types import utcnow
from flowllama.domain.budgets import BudgetIn, BudgetOut, SpendOut
from flowllama.services import budgets

router = APIRouter(tags=["budgets"])


@router.get("/api/budgets")
def list_budgets(user: CurrentUser, db: DbSession) -> list[BudgetOut]:
    return budgets.views(db, user, utcnow())


@router.put("/api/budgets/user")
def put_user_budget(body: BudgetIn, user: CurrentUser, db: DbSession) -> BudgetOut:
    return budgets.view(db, budgets.put(db, user, None, body), utcnow())


@router.put("/api/budgets/keys/{key_id}")
def put_key_budget(key_id: str, body: BudgetIn, user: CurrentUser, db: DbSession
                   ) -> BudgetOut:
    return budgets.view(db, budgets.put(db, user, key_id, body), utcnow())


@router.delete("/api/budgets/user", status_code=status.HTTP_204_NO_CONTENT)
def delete_user_budget(user: CurrentUser, db: DbSession) -> None:
    budgets.delete(db, user, None)


@router.delete("/api/budgets/keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_key_budget(key_id: str, user: CurrentUser, db: DbSession) -> None:
    budgets.delete(db, user, key_id)


@router.get("/api/usage/spend")
def get_spend(user: CurrentUser, db: DbSession) -> SpendOut:
    return budgets.report(db, user, utcnow())
