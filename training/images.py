"""Pictures as model inputs: JPEG/PNG bytes on the wire, flattened floats in Keras.

Clients send a picture input as encoded bytes (`{"b64": ...}` in TF Serving's
REST JSON, DT_STRING in gRPC). The export decodes and resizes them inside the
serving graph with `decode_pictures`; the training data and the real-file
loader go through the same function, so a picture reaches the Keras model the
same way in training and in serving: RGB, `size` x `size`, 0..1, flattened.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2


def decode_picture(data: tf.Tensor, size: int) -> tf.Tensor:
    """One JPEG/PNG/GIF/BMP byte string -> float32 [size * size * 3] in 0..1."""
    # expand_animations=False: a GIF gives its first frame, [h, w, c] like the others.
    img = tf.io.decode_image(data, channels=3, expand_animations=False, dtype=tf.uint8)
    img = tf.cast(img, tf.float32)
    # Resize only when needed: a picture already at size passes through unchanged.
    shape = tf.shape(img)
    img = tf.cond(
        tf.logical_and(tf.equal(shape[0], size), tf.equal(shape[1], size)),
        lambda: img,
        lambda: tf.image.resize(img, [size, size], method="bilinear", antialias=True),
    )
    return tf.reshape(img / 255.0, [size * size * 3])


def decode_pictures(data: tf.Tensor, size: int) -> tf.Tensor:
    """[batch] encoded pictures -> float32 [batch, size * size * 3]."""
    return tf.map_fn(lambda d: decode_picture(d, size), data,
                     fn_output_signature=tf.TensorSpec([size * size * 3], tf.float32))


def encode_png(pixels: np.ndarray | Sequence[float], size: int) -> bytes:
    """Flattened 0..1 floats (or uint8 [size, size, 3]) -> PNG bytes."""
    arr = np.asarray(pixels)
    if arr.dtype != np.uint8:
        arr = np.clip(np.rint(arr * 255.0), 0, 255).astype(np.uint8)
    return tf.io.encode_png(arr.reshape(size, size, 3)).numpy()


def write_warmup(path: str | Path, model_name: str, examples: Mapping[str, Sequence[Any]],
                 pictures: Sequence[str], size: int) -> int:
    """TF Serving warm-up records (as training/warmup.py) with `pictures` sent as PNG bytes.

    training/warmup.py only knows text and floats; here the examples' flattened
    pictures are encoded to PNG, so the replay exercises the in-graph decoder.
    """
    n = min((len(v) for v in examples.values()), default=0)
    arrays: dict[str, np.ndarray] = {}
    for name, values in examples.items():
        values = list(values)[:n]
        if name in pictures:
            arrays[name] = np.array([encode_png(v, size) for v in values], dtype=object)
        elif values and isinstance(values[0], str):
            arrays[name] = np.array(values, dtype=object)
        else:
            arrays[name] = np.asarray(values, dtype=np.float32)
    batches = [slice(i, i + 1) for i in range(n)] + ([slice(0, n)] if n > 1 else [])
    with tf.io.TFRecordWriter(str(path)) as writer:
        for batch in batches:
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name=model_name, signature_name="serving_default"))
            for name, arr in arrays.items():
                request.inputs[name].CopyFrom(tf.make_tensor_proto(arr[batch]))
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
    return len(batches)
