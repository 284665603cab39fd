# Custom SDK container for kinefake's Dataflow workers (see README, "Dataflow").
#
#   .venv/bin/pip wheel --no-deps -w dist .    # dist/kinefake-<version>-py3-none-any.whl
#   docker build -t REGION-docker.pkg.dev/PROJECT/REPO/kinefake:0.1.0 .
#   docker push REGION-docker.pkg.dev/PROJECT/REPO/kinefake:0.1.0
#
# The pins below are pyproject.toml's (tests/test_dockerfile.py checks them).
ARG BEAM_VERSION=2.72.0
FROM apache/beam_python3.11_sdk:${BEAM_VERSION}

# torch from PyTorch's CPU index first: the wheel pins torch, and from the default index that
# pin resolves to the CUDA build (about 4 GB). Generate workers never import torch (only
# fit-bases and evaluate do), but pip must see the pin satisfied.
RUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

# kinefake and its pinned dependencies (mediapipe bundles its models, dlib-bin its binary:
# nothing is downloaded at run time). `pip check` fails the build on a conflict with what the
# SDK image ships.
COPY dist/kinefake-*.whl /tmp/
RUN pip install --no-cache-dir /tmp/kinefake-*.whl "apache-beam[gcp]==${BEAM_VERSION}" && pip check && rm /tmp/kinefake-*.whl
