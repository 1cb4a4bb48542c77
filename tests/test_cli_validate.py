"""``mlsysim-vec validate``: predicted vs published training runs, error per row, mean and max."""

from mlsysim_vec import validation
from mlsysim_vec.cli import main


def test_validate_prints_both_tables_with_errors(capsys):
    assert main(["validate"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    megatron, memory, gemm = validation.megatron(), validation.korthikanti(), validation.gemm_curve()
    throughput, ttft = validation.serving_throughput(), validation.serving_ttft()
    assert out.strip() == validation.report((megatron, memory, gemm, throughput, ttft)).strip()
    for study in (throughput, ttft):  # the serving tables print all three fidelity columns
        assert study.summary() in out
        for row in study.table.itertuples():
            assert any(line.strip().startswith(row.config) and f"{100 * row.error:+.1f} %" in line for line in lines)

    # One line per Megatron-LM row: published, predicted and the signed error of the study.
    header = next(line for line in lines if line.split()[:2] == ["config", "GPUs"])
    assert "first_order" in header
    assert "published" in header and "predicted" in header and "error" in header
    for row in megatron.table.itertuples():
        line = next(line for line in lines if line.split()[:1] == [row.config])
        cells = line.split()
        assert cells[1] == str(row.gpus) and f"{row.predicted:.4g}" in cells
        assert f"{100 * row.error:+.1f} %" in line

    # One line per Korthikanti et al. figure, in GiB.
    for row in memory.table.itertuples():
        assert any(
            line.split()[:1] == [row.config] and f"{100 * row.error:+.1f} %" in line and f"{row.published:.4g}" in line
            for line in lines
        )

    # Mean and max against the targets, once per study.
    assert megatron.summary() in out and memory.summary() in out
    assert megatron.summary() in out and gemm.summary() in out
    assert "target ≤ 5 %" in out and "target ≤ 3 %" in out
    assert out.count("first_order: mean |error|") == 4  # training and serving studies


def test_validate_is_listed_in_help(capsys):
    assert main(["--help"]) == 0
    assert "validate" in capsys.readouterr().out
