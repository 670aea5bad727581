"""The isolation check, shared by the in-process and the local-cloud suites."""

from __future__ import annotations

from tests.security import routes
from tests.security.api import Answer
from tests.security.isolation_cases import CASES, NOT_TENANT_OBJECTS, Ctx
from tests.security.world import World

VARIANTS = ("other_partner", "random_id", "deleted_id")


def partner_id_operations() -> dict[str, routes.Operation]:
    return {operation.key: operation for operation in routes.id_operations("partner")}


def covered_keys() -> list[str]:
    """The cases whose operation the partner app serves (the meta-test reports the rest)."""
    served = partner_id_operations()
    return [key for key in sorted(CASES) if key in served]


def exempt_keys() -> list[str]:
    served = partner_id_operations()
    return [key for key in sorted(NOT_TENANT_OBJECTS) if key in served]


def check_exempt(world: World, key: str) -> None:
    a, b = world.partner("a"), world.partner("b")
    NOT_TENANT_OBJECTS[key](Ctx(world, a, b, world.client(a.key), world.client(b.key)))


def assert_not_found(answer: Answer, what: str) -> None:
    assert answer.status == 404, f"{what}: expected 404, got {answer}"
    assert answer.headers.get("content-type", "").startswith("application/problem+json"), f"{what}: {answer}"
    assert answer.code == "not_found", f"{what}: expected code not_found, got {answer}"


def check_isolation(world: World, key: str, variant: str) -> None:
    operation, case = partner_id_operations()[key], CASES[key]
    a, b = world.partner("a"), world.partner("b")
    ctx = Ctx(world, a, b, world.client(a.key), world.client(b.key))
    ids = case.create(ctx)
    assert set(ids) == set(operation.params), (
        f"the case created {sorted(ids)}, the path needs {operation.params}"
    )
    if variant == "deleted_id":
        case.delete(ctx, ids)
    before = case.observe(ctx, ids)
    targets = case.random_ids(ids) if variant == "random_id" else ids
    path = routes.path_with(operation, targets)
    callers = [("B", ctx.as_b)] if variant == "other_partner" else [("B", ctx.as_b), ("A", ctx.as_a)]
    answers = {}
    for who, client in callers:
        answers[who] = client.call(operation.method, path, case.body(ctx, targets))
        assert_not_found(answers[who], f"{key} as {who} with {variant.replace('_', ' ')} {targets}")
    if variant == "other_partner":  # no oracle: another partner's id answers as a random one does
        unknown = ctx.as_b.call(
            operation.method, routes.path_with(operation, case.random_ids(ids)), case.body(ctx, ids)
        )
        same = ("status", "code", "detail", "title")
        shown = {name: answers["B"].body.get(name) for name in same}
        assert {name: unknown.body.get(name) for name in same} == shown, (
            f"A's id tells from a random one: {unknown}"
        )
    after = case.observe(ctx, ids)
    assert after == before, f"{key}: A's object changed under B's {variant.replace('_', ' ')} calls"
    if variant != "deleted_id":
        case.control(ctx, ids)
