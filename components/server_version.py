"""The oldest Kubernetes API server a stack's objects work on, and which setting asks for more.

A pure function of the settings: `make up/preview/refresh` compare it with the server they are about to
change (ops/target.py) before changing anything; `destroy` never asks. OpenShift 4.N runs Kubernetes 1.(N+13).
"""

from __future__ import annotations

from typing import NamedTuple

from .settings import StackSettings

# What every stack renders: autoscaling/v2 HPAs and policy/v1 PDBs are served from Kubernetes 1.23.
BASELINE = (1, 23)


class Need(NamedTuple):
    setting: str
    """The setting, as a stack file writes it; "" for what every stack needs."""
    version: tuple[int, int]
    """The oldest Kubernetes minor that serves it."""
    why: str


def openshift_release(kubernetes: tuple[int, int]) -> str:
    return f"4.{kubernetes[1] - 13}"


def needs(settings: StackSettings) -> list[Need]:
    """Each requirement above the baseline, with the setting that makes it."""
    out = [Need("", BASELINE, "autoscaling/v2 HorizontalPodAutoscalers and policy/v1 PodDisruptionBudgets")]
    if settings.llama_stack.auth.provider == "kubernetes":
        # Llama Stack 0.6-0.7 and OGX 1.x ask authentication.k8s.io/v1 SelfSubjectReviews (GA in 1.28):
        # on an older server the pods run and every caller is refused.
        out.append(Need("llamaStack.auth.provider", (1, 28),
                        "a SelfSubjectReview (authentication.k8s.io/v1), how Llama Stack checks each caller's token"))
    for section, workload in (("mcpServer", settings.mcp_server), ("llamaStack", settings.llama_stack)):
        if workload.shutdown_delay_seconds:
            out.append(Need(f"{section}.shutdownDelaySeconds", (1, 30),
                            "a preStop `sleep` action (PodLifecycleSleepAction, on by default from 1.30)"))
    return out


def minimum(settings: StackSettings) -> tuple[int, int]:
    return max(need.version for need in needs(settings))


def too_old(settings: StackSettings, found: tuple[int, int]) -> list[Need]:
    """The needs the found server does not meet."""
    return [need for need in needs(settings) if found < need.version]
