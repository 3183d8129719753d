"""`dlngraph bench` end to end, kept cheap: a tiny step and forward pass on a fast server."""

from __future__ import annotations

import re

import msgspec
import pytest

from dlngraph.bench.cases import (
    HEADLINE,
    NAVIGATE_SH,
    bench_cases,
    forward_pass,
    step_case,
)
from dlngraph.bench.extras import _measured, lowest_rate
from dlngraph.bench.measure import (
    case_later_starts,
    limit_s,
    slot_limit_s,
    staged_limit_s,
)
from dlngraph.bench.models import bench_backend
from dlngraph.bench.report import format_report, summary_line
from dlngraph.bench.run import BenchPlan, default_plan, run_bench
from dlngraph.bench.server import ServerSettings
from dlngraph.cli.main import build_parser
from dlngraph.dln.plan import LaterStart
from dlngraph.testing import ScriptedServer

SUMMARY = re.compile(
    r"^speedup_vs_layer_sync=\d+\.\d ratio_to_staged=\d+\.\d\d ratio_to_limit=\d+\.\d\d"
    r" client_ratio_to_bare=\d+\.\d\d client_rps=\d+$"
)


def tiny_plan() -> BenchPlan:
    return BenchPlan(
        quick=True,
        server=ServerSettings(latency_s=0.002, jitter=0.2, concurrency=64),
        cases=[msgspec.structs.replace(HEADLINE, examples=3, num_p_samples=2, num_h_samples=1), forward_pass("wide_ensemble", 5)],
        repeats=1,
        saturation_requests=50,
        client=False,
        local=False,
    )


def test_the_bench_runs_end_to_end_and_ends_with_the_summary_line() -> None:
    messages: list[str] = []
    report = run_bench(tiny_plan(), progress=messages.append)
    lines = format_report(report) + [summary_line(report)]
    assert SUMMARY.match(lines[-1])
    assert lines[-1].endswith("client_ratio_to_bare=0.00 client_rps=0")
    assert f"ratio_to_staged={report.headline.ratio_to_staged_limit:.2f}" in lines[-1]
    assert any(line.startswith("DLN-2 step") for line in lines)
    assert any(line.startswith("wide_ensemble forward x5") for line in lines)
    step = report.headline
    assert step.case == HEADLINE.name and step.requests > 0 and step.baseline_groups > 0
    assert step.depth == 5  # reason forward 1, posterior 1 (beside answer forward), sharpening 1, proposals and scores 2
    assert step.limit_s == limit_s(step.depth, step.requests, report.server)
    assert step.slot_limit_s >= step.staged_limit_s >= step.limit_s
    assert 0 < step.baseline_http_requests <= step.baseline_groups + 2
    assert report.saturation.requests == 50
    assert [extra.lines for extra in report.extras] == [["client: skipped (--no-client)"], ["local scoring: skipped (--no-local)"]]
    assert len(messages) == 3


def test_the_staged_limit_counts_the_calls_that_cannot_start_before_each_round() -> None:
    """The paper's DLN-2 step as measured: 20 forward calls in rounds 0 and 1, 50 posterior
    calls in round 1, and 1,448 calls (sharpening, proposals, scores) from round 2 on."""
    server = ServerSettings(latency_s=0.2, jitter=0.2, concurrency=256)
    starts = {("reason", "forward"): 0, ("answer", "forward"): 1, ("reason", "posterior"): 1, ("answer", "score"): 2}
    requests = {("reason", "forward"): 10, ("answer", "forward"): 10, ("reason", "posterior"): 50, ("answer", "score"): 1448}
    staged = staged_limit_s(starts, requests, depth=5, server=server)
    assert staged == pytest.approx(0.4 + 1448 * 0.2 / 256)  # 1.53 s, where the limit is 1.19 s
    assert limit_s(5, 1518, server) == pytest.approx(1518 * 0.2 / 256)
    few = {("reason", "forward"): 10, ("answer", "score"): 10}
    assert staged_limit_s(starts, few, depth=5, server=server) == pytest.approx(1.0)  # the depth decides
    assert staged_limit_s({}, requests, depth=1, server=server) == pytest.approx(limit_s(1, 1518, server))


def test_the_slot_limit_counts_whole_latencies_per_slot() -> None:
    """300 calls of one layer on 256 slots: some slot serves two of them, one after the other."""
    server = ServerSettings(latency_s=0.2, jitter=0.2, concurrency=256)
    one_layer = {("a", "forward"): 100, ("b", "forward"): 100, ("c", "forward"): 100}
    assert staged_limit_s({}, one_layer, depth=1, server=server) == pytest.approx(300 * 0.2 / 256)
    assert slot_limit_s({}, one_layer, depth=1, server=server) == pytest.approx(0.4)
    starts = {("reason", "forward"): 0, ("answer", "forward"): 1, ("reason", "posterior"): 1, ("answer", "score"): 2}
    requests = {("reason", "forward"): 10, ("answer", "forward"): 10, ("reason", "posterior"): 50, ("answer", "score"): 1448}
    assert slot_limit_s(starts, requests, depth=5, server=server) == pytest.approx((2 + 6) * 0.2)  # 1,448 = 5.7 x 256
    assert slot_limit_s(starts, {("reason", "forward"): 10}, depth=5, server=server) == pytest.approx(1.0)


def test_the_proposed_candidates_scores_count_from_the_round_after_the_proposals() -> None:
    """The one-layer step as measured: 30 forward calls, 27 proposals and the 90 scores of the
    3 known candidates in round 1, the 270 of the 27 proposed ones only from round 2."""
    server = ServerSettings(latency_s=0.2, jitter=0.2, concurrency=256)
    nodes = ("a", "b", "c")
    starts = {(n, phase): (0 if phase == "forward" else 1) for n in nodes for phase in ("forward", "proposal", "score")}
    requests = {(n, phase): count for n in nodes for phase, count in (("forward", 10), ("proposal", 9), ("score", 120))}
    later = {(n, "score"): LaterStart(round=2, earlier_at_most=30) for n in nodes}
    assert staged_limit_s(starts, requests, depth=3, server=server) == pytest.approx(0.6)  # the depth, without the split
    assert staged_limit_s(starts, requests, 3, server, later) == pytest.approx(0.4 + 270 * 0.2 / 256)
    assert slot_limit_s(starts, requests, 3, server, later) == pytest.approx((2 + 2) * 0.2)  # 270 > 256 slots
    # fewer requests than the known candidates could send (deduplicated): none counted late
    assert slot_limit_s(starts, {("a", "score"): 20}, 3, server, later) == pytest.approx(0.6)


def test_the_default_plans() -> None:
    quick, full = default_plan(quick=True), default_plan(quick=False)
    assert quick.server.latency_s == 0.05 and full.server.latency_s == 0.2
    assert quick.server.concurrency == full.server.concurrency == 256
    assert bench_cases(True)[0] == bench_cases(False)[0] == HEADLINE
    assert (HEADLINE.examples, HEADLINE.num_p_samples, HEADLINE.num_h_samples, HEADLINE.use_memory) == (10, 10, 5, 2)


def test_a_jitter_replaces_only_the_servers_spread() -> None:
    still = default_plan(quick=False, jitter=0.0)
    assert still.server.jitter == 0.0 and default_plan(quick=False).server.jitter == 0.2
    assert (still.server.latency_s, still.server.concurrency) == (0.2, 256)


def test_the_bench_refuses_a_jitter_outside_zero_to_one(capsys: pytest.CaptureFixture[str]) -> None:
    from dlngraph.cli.main import main

    assert main(["bench", "--jitter", "1.5"]) == 2
    assert "--jitter: expected a fraction from 0 to below 1, got '1.5'" in capsys.readouterr().err


def test_the_navigate_sh_case_is_the_papers_script() -> None:
    """two_layers_e2e/navigate.sh at 036d895: batch 10, 10 prompt and 10 hidden samples, memory 5."""
    assert NAVIGATE_SH in bench_cases(False) and NAVIGATE_SH.name == "navigate.sh DLN-2 step 10/10/10 mem 5"
    network = NAVIGATE_SH.network()
    training = NAVIGATE_SH.step_settings(network).training
    assert (training.batch_size, training.num_p_samples, training.num_h_samples, training.use_memory) == (10, 10, 10, 5)
    assert (training.trust_factor, training.logp_penalty, training.strip_options_for_hidden) == (5.0, 2.0, True)
    assert all(case.name.count("/") == 2 for case in bench_cases(False) if case.kind == "step")
    assert len(bench_cases(True)) < len(bench_cases(False))


def test_an_extra_that_cannot_be_measured_is_reported_unavailable() -> None:
    async def no_port() -> dict:
        raise OSError("no free port")

    outcome = _measured("client", no_port, lambda figures: pytest.fail("presented a failed measurement"))
    assert outcome.lines == ["client: unavailable (OSError: no free port)"]
    assert outcome.requests_per_s == 0


def test_the_client_headline_is_its_lowest_level() -> None:
    """The target (3,000 req/s at 64, 256 and 1024 in flight) holds only if every level meets it."""
    levels = [{"in_flight": 64, "requests_per_s": 4100.0}, {"in_flight": 1024, "requests_per_s": 2900.5}]
    assert lowest_rate({"throughput": levels, "memory": {"requests_per_s": 5000.0}}) == 2900.5


def test_the_command_is_registered() -> None:
    args = build_parser().parse_args(["bench", "--quick", "--no-local", "--no-client"])
    assert args.command.NAME == "bench" and args.quick and not args.local and not args.client


async def test_the_known_candidates_score_requests_are_counted_on_a_run_without_proposals() -> None:
    """wide_ensemble, 4 examples, 3 known candidates (current, 2 remembered): the current
    prompt's scores are its forward calls, so 2 x 4 requests per node can start before the
    proposals, fewer than the plan's 3 x 4; the proposed candidates' 3 x 4 come after."""
    case = step_case("wide_ensemble", batch=4, prompts=4, hidden=2, memory=2)
    server = ServerSettings(latency_s=0.0, jitter=0.0, concurrency=64)
    async with ScriptedServer() as scripted:
        backend = bench_backend(scripted.base_url, 64)
        try:
            later = await case_later_starts(case, case.network(), backend, server)
        finally:
            await backend.aclose()
    assert later == {(node, "score"): LaterStart(round=2, earlier_at_most=8) for node in ("literal", "counting", "skeptic")}
