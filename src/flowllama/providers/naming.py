"""Names and tags derived from a deployment, so a restarted agent finds what it created.

Every resource a provisioner creates is named :func:`resource_name` and carries
:func:`resource_tags` (AWS style, ``flowllama:deployment``) or :func:`resource_labels` (GCP and
Kubernetes style, no ``:`` allowed). Ids are validated rather than rewritten: two ids that mapped
to one name would let one deployment adopt (or destroy) another's server.
"""

from __future__ import annotations

import re

NAME_PREFIX = "fl-"
TAG_DEPLOYMENT = "flowllama:deployment"
TAG_USER = "flowllama:user"
TAG_NAME = "Name"

# Lowercase letters, digits and inner hyphens: valid in AWS, GCP and Kubernetes names alike.
# 60 characters leaves room for the prefix inside GCP's and DNS's 63.
_ID_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])?$")


def _checked_id(value: str, what: str) -> str:
    if not _ID_PATTERN.fullmatch(value):
        raise ValueError(
            f"{what} {value!r} cannot name a cloud resource: use 1-60 lowercase letters, "
            "digits or inner hyphens"
        )
    return value


def resource_name(deployment_id: str) -> str:
    """The name of every resource of a deployment: ``fl-<deployment_id>``."""
    return NAME_PREFIX + _checked_id(deployment_id, "deployment id")


def deployment_id_from_name(name: str) -> str | None:
    """The deployment id inside a :func:`resource_name`, or ``None`` for a foreign name."""
    if not name.startswith(NAME_PREFIX):
        return None
    candidate = name.removeprefix(NAME_PREFIX)
    return candidate if _ID_PATTERN.fullmatch(candidate) else None


def resource_tags(deployment_id: str, user_id: str) -> dict[str, str]:
    """Tags for clouds that allow ``:`` in keys (AWS): deployment, owner and ``Name``."""
    return {
        TAG_DEPLOYMENT: _checked_id(deployment_id, "deployment id"),
        TAG_USER: _checked_id(user_id, "user id"),
        TAG_NAME: resource_name(deployment_id),
    }


def resource_labels(deployment_id: str, user_id: str) -> dict[str, str]:
    """The same facts as :func:`resource_tags` as GCP/Kubernetes labels (``flowllama-user``)."""
    return {
        TAG_DEPLOYMENT.replace(":", "-"): _checked_id(deployment_id, "deployment id"),
        TAG_USER.replace(":", "-"): _checked_id(user_id, "user id"),
    }
