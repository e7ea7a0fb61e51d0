"""``/api/deployments/{id}/recommendations``: the cheaper placements the advisor found for a
deployment; accepting one starts a blue/green move (``docs/autopilot.md``)."""

from __future__ import annotations

from fastapi import APIRouter, status

from flowllama.api.deps import CurrentUser, DbSession, PlatformDep
from flowllama.domain.recommendations import RecommendationOut
from flowllama.services import recommendations
from flowllama.services.deployments import commit_and_nudge

router = APIRouter(prefix="/api/deployments/{deployment_id}/recommendations",
                   tags=["recommendations"])


@router.get("")
def list_recommendations(deployment_id: str, user: CurrentUser, db: DbSession
                         ) -> list[RecommendationOut]:
    return [recommendations.view(row)
            for row in recommendations.list_for(db, user, deployment_id)]


@router.post("/{recommendation_id}/accept", status_code=status.HTTP_202_ACCEPTED)
def accept(deployment_id: str, recommendation_id: str, user: CurrentUser, db: DbSession,
           platform: PlatformDep) -> RecommendationOut:
    deployment, row = recommendations.accept_for(db, user, deployment_id, recommendation_id,
                                                 platform.settings.quotas)
    commit_and_nudge(db, platform.queue, deployment)
    return recommendations.view(row)


@router.post("/{recommendation_id}/dismiss")
def dismiss(deployment_id: str, recommendation_id: str, user: CurrentUser, db: DbSession
            ) -> RecommendationOut:
    row = recommendations.dismiss_for(db, user, deployment_id, recommendation_id)
    db.commit()
    return recommendations.view(row)
