"""The options of `tfbt train`, `sweep-alpha` and `pretrain` come from the config dataclasses: one
place for a setting's default, type, check and help, and "given explicitly" read off the
namespace (no TensorFlow needed)."""

import argparse
import dataclasses

import pytest

from tfbt.runs import commands, options
from tfbt.runs.config import PretrainConfig, TrainConfig


def parse(add_arguments, argv):
    parser = argparse.ArgumentParser(prog="tfbt")
    add_arguments(parser)
    return parser.parse_args(argv)


REQUIRED = ["--data", "d", "--output", "o"]


def test_every_setting_but_the_folder_is_a_flag_with_help():
    parser = argparse.ArgumentParser()
    commands.add_train_arguments(parser)
    by_dest = {action.dest: action for action in parser._actions}
    for field in dataclasses.fields(TrainConfig):
        if field.name in ("output", "monitor"):  # the run folder's flag; no flag (as before)
            continue
        assert by_dest[field.name].help, field.name
    assert by_dest["jit_compile"].option_strings == ["--jit-compile", "--no-jit-compile"]


@pytest.mark.parametrize("add_arguments", [commands.add_train_arguments,
                                           commands.add_sweep_arguments])
def test_no_flag_given_is_the_dataclass_default(add_arguments):
    args = parse(add_arguments, REQUIRED)
    assert options.given(args, TrainConfig) == {"data": "d", "output": "o"}
    assert commands.config_from_args(args) == TrainConfig(data="d", output="o")


def test_pretrain_flags_build_the_config():
    args = parse(commands.add_pretrain_arguments, REQUIRED)
    assert PretrainConfig(**options.given(args, PretrainConfig)) == PretrainConfig("d", "o")
    args = parse(commands.add_pretrain_arguments, [
        *REQUIRED, "--encoder-arg", "embedding_dim=64", "--encoder-arg", "dilation_rates=[1,2]",
        "--encoder-arg", "name=enc", "--projector", "64,32", "--jit-compile"])
    config = PretrainConfig(**options.given(args, PretrainConfig))
    assert config.encoder_args == {"embedding_dim": 64, "dilation_rates": [1, 2], "name": "enc"}
    assert (config.projector, config.jit_compile) == ((64, 32), True)


@pytest.mark.parametrize("argv,message", [
    (["--projector", "64,x"], "argument --projector: expected an integer >= 1, got 'x'"),
    (["--encoder-arg", "64"], "argument --encoder-arg: expected KEY=VALUE, got '64'"),
])
def test_bad_pretrain_flags_are_refused_while_parsing(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        parse(commands.add_pretrain_arguments, [*REQUIRED, *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_help_shows_each_default_once_and_keeps_percent_signs():
    text = argparse.ArgumentParser(prog="tfbt")
    commands.add_train_arguments(text)
    help_text = " ".join(text.format_help().split())
    assert "e.g. 0.01 or 1%); validation and test use every user (default: 1.0)" in help_text
    assert "--max-len MAX_LEN the most recent items of a sequence the model reads (default: 50)" \
        in help_text
    assert "BT weight for btsr (default authors 0.2, zbontar 0.02) --" in help_text


def test_a_preset_with_model_sasrec_is_the_sasrec_baseline_of_its_settings():
    """The preset's alpha is BT-SR's weight: --model sasrec leaves it out instead of failing on
    an --alpha the user never gave."""
    config = commands.config_from_args(parse(commands.add_train_arguments, [
        *REQUIRED, "--preset", "btsr-ml1m", "--model", "sasrec"])).resolved()
    assert (config.model, config.alpha, config.max_len, config.patience) == (
        "sasrec", 0.0, 200, 30)
    with pytest.raises(ValueError, match="--model sasrec has no BT term; got --alpha 0.3"):
        commands.config_from_args(parse(commands.add_train_arguments, [
            *REQUIRED, "--preset", "btsr-ml1m", "--model", "sasrec", "--alpha", "0.3"])
        ).resolved()
