"""Traffic control on the deployed stack (docs/traffic-control.md)."""

STACK_RULES_CACHE_S = 2
"""How long the test stack's processors cache traffic-control rules (template TrafficRulesCacheSeconds):
a test that changes a rule waits this long, plus a margin, before traffic must see it."""
