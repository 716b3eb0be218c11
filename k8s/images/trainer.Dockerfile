# syntax=docker/dockerfile:1
# Trains and exports the default models: `python -m training all --model-dir /models`.
# TensorFlow's own image, the release the models are exported with (2.21), CUDA build:
#
#   docker build -f k8s/images/trainer.Dockerfile -t REGISTRY/multihead-trainer:0.1.0-gpu .
#   docker build -f k8s/images/trainer.Dockerfile \
#       --build-arg BASE_IMAGE=tensorflow/tensorflow:2.21.0 -t REGISTRY/multihead-trainer:0.1.0-cpu .
ARG BASE_IMAGE=tensorflow/tensorflow:2.21.0-gpu
FROM ${BASE_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/tmp \
    KERAS_HOME=/tmp/keras \
    MPLCONFIGDIR=/tmp/matplotlib
# graphviz: plot_model's diagram in each export's assets.extra/.
RUN apt-get update \
 && apt-get install -y --no-install-recommends graphviz \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# The project's pins (pyproject.toml); tensorflow==2.21.* is the base image's own.
COPY pyproject.toml README.md ./
COPY training/ training/
COPY serving/ serving/
RUN python -m pip install . \
 && python -c "import tensorflow as tf, training; assert tf.__version__.startswith('2.21.'), tf.__version__" \
 && groupadd --gid 10001 multihead \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp \
        --shell /usr/sbin/nologin multihead
USER 10001:10001
ENTRYPOINT ["python", "-m", "training"]
CMD ["all", "--model-dir", "/models", "--out", "/runs"]
