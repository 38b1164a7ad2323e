"""The server's automation that marks Crashed a newsflow run whose process died without saying so.

A run holds its deployment's and the pool's one slot while it is Running. A flow-run process that
dies unable to report its end leaves it Running for good, and every later run waits Late behind
it: the worker stopped by a second Ctrl-C (the run's output went to the worker, and its next
write ended it), a machine lost, the OOM killer. Each run beats every HEARTBEAT_SECONDS (the
pool's PREFECT_FLOWS_HEARTBEAT_FREQUENCY in prefect.yaml); this automation, Prefect's own answer
(docs: "How to detect and respond to zombie flows"), marks Crashed a newsflow run that has beaten
once and then neither beaten nor ended for three beats. `make deploy` creates it, or updates it
in place: running it again makes no second one.
"""

from __future__ import annotations

import sys
from datetime import timedelta

from prefect.automations import Automation
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification

NAME = "newsflow: crash runs whose heartbeat stopped"
HEARTBEAT_SECONDS = 30  # Prefect's least; the pool's PREFECT_FLOWS_HEARTBEAT_FREQUENCY
RUN_ENDS = ("Completed", "Failed", "Cancelled", "Crashed")


def zombie_runs_automation(silent_seconds: float = 3 * HEARTBEAT_SECONDS) -> Automation:
    """Crash a run of the deployments tagged newsflow `silent_seconds` after its last heartbeat,
    unless it beats again or ends first. Other projects' runs on the same server are theirs."""
    return Automation(
        name=NAME,
        description=(
            "Marks Crashed a newsflow flow run that stopped sending heartbeats without ending "
            "(its process died unseen), so that it frees its deployment's and pool's slot."
        ),
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.heartbeat", *(f"prefect.flow-run.{end}" for end in RUN_ENDS)},
            match=ResourceSpecification({"prefect.resource.id": "prefect.flow-run.*"}),
            match_related=ResourceSpecification(
                {"prefect.resource.role": "tag", "prefect.resource.id": "prefect.tag.newsflow"}
            ),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=silent_seconds),
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.CRASHED,
                message=(
                    f"no heartbeat for {silent_seconds:.0f} s: the flow-run process ended "
                    "without reporting (its worker stopped, its machine lost, killed)"
                ),
            )
        ],
    )


def create_or_update(automation: Automation) -> Automation:
    """The automation on the server: created, or the one of that name updated to it."""
    try:
        existing = Automation.read(name=automation.name)
    except ValueError:  # Prefect's "not found"
        return automation.create()
    automation.id = existing.id
    automation.update()
    return automation


if __name__ == "__main__":
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3 * HEARTBEAT_SECONDS
    made = create_or_update(zombie_runs_automation(seconds))
    print(f"automation {made.name!r}: a silent run is crashed after {seconds:.0f} s")
