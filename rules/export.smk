# Export: every trained checkpoint to ONNX with dynamic batch and time axes (the seed froze a
# TensorFlow graph), checked in the job against the PyTorch model on real utterances.


rule export_onnx:
    input:
        model=artifacts.MODEL,
        features=export_features_input,
    output:
        artifacts.ONNX,
    params:
        cmn_window=config["data"]["cmn_window"],
        num_utterances=4,
        tolerance=1e-4,
    log:
        "logs/export/{alias}/{stage}.log",
    conda:
        ENV
    script:
        "../workflow/scripts/export_onnx.py"
