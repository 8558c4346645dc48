"""A killed export's hidden staging folder is removed by the next export of the same name;
a live export's is not."""

import os
import subprocess

import tfbt  # noqa: F401
from tfbt import data
from tfbt.runs import train
from tfbt.serving import export


def test_a_killed_exports_staging_folder_is_removed(dataset, tmp_path, capsys):
    config = train.TrainConfig(data=str(dataset), output="", max_len=8, hidden_dim=16,
                               num_blocks=1).resolved()
    model = train.build_model(config, data.load_metadata(dataset))
    finished = subprocess.Popen(["true"])
    finished.wait()
    name = tmp_path / "models" / "m"
    name.mkdir(parents=True)
    dead = name / f".1.tmp-{finished.pid}-0badc0de"
    legacy = name / ".1.k2j4h5.tmp"  # tfbt's names before they carried a pid
    alive = name / f".1.tmp-{os.getpid()}-0badc0de"
    for folder in (dead, legacy, alive):
        (folder / "variables").mkdir(parents=True)
    result = export.export_recommender(model, "m", root=tmp_path / "models", data_dir=dataset,
                                       verify_export=False)
    assert result.path == name / "1"
    assert not dead.exists() and not legacy.exists() and alive.is_dir()
    assert f"removed {dead}" in capsys.readouterr().err
