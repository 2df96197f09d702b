"""voxsv: the VoxSRC-2020 speaker-verification recipe as a Snakemake workflow in PyTorch."""

__version__ = "0.1.0"
