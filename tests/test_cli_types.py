"""Numeric flags are checked while the arguments are parsed (tfbt.cli_types), before anything
runs: the message names the flag and what was expected."""

import pytest

from tfbt import cli


@pytest.mark.parametrize("argv, message", [
    (["train", "--learning-rate", "-1"], "argument --learning-rate: expected a number > 0, "
                                         "got '-1'"),
    (["train", "--learning-rate", "nan"], "argument --learning-rate: expected a number > 0, "
                                          "got 'nan'"),
    (["train", "--epochs", "0"], "argument --epochs: expected an integer >= 1, got '0'"),
    (["train", "--dropout", "1.5"], "argument --dropout: expected a number in [0, 1), got '1.5'"),
    (["train", "--alpha", "inf"], "argument --alpha: expected a finite number >= 0, got 'inf'"),
    (["sweep-alpha", "--alphas", "0,nan"], "argument --alphas: expected a finite number >= 0, "
                                           "got 'nan'"),
    (["pretrain", "--batch-size", "two"], "argument --batch-size: expected an integer >= 1, "
                                          "got 'two'"),
    (["pretrain", "--length-chunks", "-1"], "argument --length-chunks: expected an integer >= 0, "
                                            "got '-1'"),
    (["train", "--ce-chunk-rows", "nan"], "argument --ce-chunk-rows: expected an integer >= 0, "
                                          "got 'nan'"),
    (["pretrain", "--lambd", "-0.1"], "argument --lambd: expected a finite number >= 0, "
                                      "got '-0.1'"),
    (["build", "--num-shards", "0"], "argument --num-shards: expected an integer >= 1, got '0'"),
    (["build", "--min-user-interactions", "-5"], "argument --min-user-interactions: expected "
                                                 "an integer >= 0, got '-5'"),
    (["recommend", "-k", "0"], "argument -k/--k: expected an integer >= 1, got '0'"),
    (["export", "--version", "0"], "argument --version: expected an integer >= 1, got '0'"),
    (["demo", "--seed", "-1"], "argument --seed: expected an integer >= 0, got '-1'"),
    (["train-dual-encoder", "--temperature", "0"], "argument --temperature: expected a number "
                                                   "> 0, got '0'"),
    (["experiment", "liu2025", "--pretrain-epochs", "0"], "argument --pretrain-epochs: "
                                                          "expected an integer >= 1, got '0'"),
    (["experiment", "liu2025", "--head-lrs", "0.01,-1"], "argument --head-lrs: expected a "
                                                         "number > 0, got '-1'"),
])
def test_bad_numeric_flags_are_refused_naming_the_flag(tmp_path, capsys, argv, message):
    output = tmp_path / "out"
    command, *flags = argv
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, *flags, "--output", str(output)])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not output.exists()
