import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from capplan.core.config import AutoscalingPolicy, ScalingRule
from capplan.planning.autoscale import Steps, replay_hpa
from capplan.planning.autoscale_batch import replay_hpa_batch

rules = st.lists(
    st.builds(
        ScalingRule,
        type=st.sampled_from(["Pods", "Percent"]),
        value=st.integers(1, 100),
        period_s=st.sampled_from([15, 60, 120, 600]),
    ),
    min_size=1,
    max_size=2,
)


@settings(max_examples=60, deadline=None)
@given(
    demand=st.lists(st.lists(st.floats(0, 40), min_size=3, max_size=3), min_size=1, max_size=40),
    tolerance=st.sampled_from([0.0, 0.1, 0.3]),
    up_s=st.sampled_from([0, 120]),
    down_s=st.sampled_from([0, 60, 300]),
    delay_s=st.sampled_from([0, 60, 180]),
    max_step=st.one_of(st.none(), st.integers(1, 4)),
    up=rules,
    down=rules,
    select=st.sampled_from(["Max", "Min"]),
    caps=st.lists(st.one_of(st.just(np.nan), st.integers(2, 30)), min_size=3, max_size=3),
    lo=st.integers(0, 2),
)
def test_batch_hpa_equals_the_per_service_loop(
    demand, tolerance, up_s, down_s, delay_s, max_step, up, down, select, caps, lo
):
    p = AutoscalingPolicy(
        tolerance=tolerance, scale_up_stabilization_s=up_s, scale_down_stabilization_s=down_s,
        startup_delay_s=delay_s, max_step=max_step, scale_up_policies=up, scale_down_policies=down,
        select_policy=select, min_instances=lo,
    )  # fmt: skip
    req = np.asarray(demand, dtype=float)
    steps = Steps.of(p, 60)
    caps = np.asarray(caps, dtype=float)
    caps = np.where(np.isnan(caps), np.nan, np.maximum(caps, lo))
    batch = replay_hpa_batch(req, p, steps, max_instances=caps)
    for j in range(req.shape[1]):
        cap = None if np.isnan(caps[j]) else caps[j]
        np.testing.assert_array_equal(batch[:, j], replay_hpa(req[:, j], p, steps, max_instances=cap))
