"""The embedded mini corpus: synthetic VoxCeleb-, MUSAN- and RIRS_NOISES-like data from a seed.

`voxsv corpus OUTDIR --seed N` (voxsv.cli.corpus) writes it; voxsv.corpus.generate orchestrates;
speakers, phones, speech and channel synthesise the speech; sources and rirs the augmentation
material; layout holds the real corpora's names and list formats; sizes the counts.
"""
