"""tfbt: Barlow Twins user-sequence representations and sequential recommendation in TF/Keras."""

from setuptools import find_packages, setup

setup(
    name="tfbt",
    version="0.1.0",
    description=("Barlow Twins self-supervised user-sequence encoders and BT-SR sequential "
                 "recommendation for TensorFlow/Keras"),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["tfbt", "tfbt.*", "tfrecords_builder", "tfrecords_builder.*"]),
    include_package_data=True,
    package_data={"tfbt.runs": ["presets/*.json"]},  # `tfbt train --preset NAME`
    install_requires=[
        "tensorflow==2.21.*",
        "tf-keras==2.21.*",
        "tensorboard",
        "tensorflow-recommenders>=0.7.3",
        "keras>=3.15",
        "keras-hub",
        "numpy",
        "pandas",
        "pyarrow>=14.0.1,<26",
        "tqdm",
        "matplotlib",
        # apache-beam (the beam and dev extras) caps these four; capping them here too makes
        # `pip install -e .` and `pip install -e ".[dev]"` resolve to the same versions, so
        # installing the extra later downgrades nothing.
        "protobuf>=6.31.1,<7",
        "pillow>=12.1.1,<13",
        "python-dateutil>=2.8.2,<3",
    ],
    extras_require={
        "beam": ["apache-beam"],
        "dev": ["pytest", "pytest-timeout", "scipy", "nbclient", "nbformat", "ipykernel", "apache-beam"],
    },
    entry_points={"console_scripts": ["tfbt=tfbt.cli:main"]},
)
