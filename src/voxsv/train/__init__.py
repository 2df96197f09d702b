"""Training of the embedding extractors: schedules, precision, DDP, checkpoints and logs.

`python -m voxsv.train --settings JSON` runs one stage (pretrain or lmft); rules/train.smk
launches it through torchrun when a stage uses more than one process.
"""
