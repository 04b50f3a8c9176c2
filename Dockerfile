# syntax=docker/dockerfile:1
#
# MAGI on Node 24, with llama.cpp's llama-server inside so the image runs models.
#
# llama-server comes from llama.cpp's official server image at a pinned release:
#   ARG LLAMA_CPP_VARIANT  server (CPU, the default) | server-cuda (CUDA 12.8) | server-cuda13 (CUDA 13)
#   ARG LLAMA_CPP_RELEASE  bNNNN; only llama.cpp's daily Docker builds publish images, so pick a
#                          tag that ghcr.io/ggml-org/llama.cpp really has (b10481 is one).
#
#   docker build -t magi .
#   docker build --build-arg LLAMA_CPP_VARIANT=server-cuda -t magi:cuda .
#   docker build --build-arg LLAMA_CPP_VARIANT=server-cuda13 --build-arg LLAMA_CPP_RELEASE=bNNNN -t magi:cuda13 .
#   docker run -p 8000:8000 -v /srv/models:/models -v magi-data:/app/data magi
#   docker run --gpus all -p 8000:8000 -v /srv/models:/models -v magi-data:/app/data magi:cuda
#
# Why the runtime stage is the llama.cpp image, with Node copied in, and not the other way round:
# - llama.cpp builds its images on Ubuntu 24.04 with GCC 14. The binaries need glibc 2.38+
#   (GLIBC_2.38) and GCC 13+'s libstdc++ (GLIBCXX_3.4.32, CXXABI_1.3.15). Debian bookworm has
#   glibc 2.36 and GCC 12's libstdc++, so copying llama-server into node:24-bookworm-slim fails
#   at load time.
# - server-cuda is built FROM nvidia/cuda:12.8.1-runtime-ubuntu24.04, which provides libcudart,
#   libcublas and libcublasLt (about 2 GB). Building on that image keeps those CUDA libraries at the
#   version the binary was built against, with no second build argument to keep in line.
#   libcuda.so.1 is not in any image: the NVIDIA Container Toolkit mounts it from the host driver
#   (`--gpus`), and that driver must support the image's CUDA version.
# - Node, on the other hand, is one self-contained binary, the nodejs.org build, made to run on
#   glibc 2.28 or newer. So it is copied from the build stage's node:24 image. npm is left out
#   because the runtime stage never runs it.
#
# Where llama.cpp's files are, read in llama.cpp's .devops/cpu.Dockerfile and cuda.Dockerfile at
# b10481 (commit 25ae3a9b331fffea50ff8d07a5cad34c33f1276f); the server target is the same in both:
#   build:  find build -name "*.so*" -exec cp -P {} /app/lib \;
#   base:   apt-get install -y libgomp1 curl ffmpeg      (libgomp1: OpenMP for the CPU backend)
#           COPY --from=build /app/lib/ /app
#   server: ENV LLAMA_ARG_HOST=0.0.0.0
#           COPY --from=build /app/full/llama /app/full/llama-server /app
#           WORKDIR /app, HEALTHCHECK on :8080, ENTRYPOINT [ "/app/llama-server" ]
# So llama-server is /app/llama-server. Its shared libraries (libllama, libggml*, libmtmd...) are
# beside it in /app, and so are the ggml backends that it dlopen()s from its own directory
# (GGML_BACKEND_DL: libggml-cpu-<cpu>.so, libggml-cuda.so). MAGI's own files go into /app with
# them. That image's cmake sets no RPATH, so the RUNPATH in its binaries is CMake's default: the
# build tree and an empty entry, `/app/build/bin:`. /app/build/bin is not in the image. The empty
# entry means the current directory, so the official image finds its libraries only because its
# WORKDIR is /app. LD_LIBRARY_PATH=/app below finds them from any working directory.
# MAGI starts each llama-server as `setpriv --pdeathsig KILL -- llama-server ...`. setpriv is in
# util-linux, an Essential package in Ubuntu and Debian, so every such image has it. Coreutils
# (mkfifo) is Essential too. The RUN step below checks setpriv, node and llama-server's libraries.

ARG LLAMA_CPP_VARIANT=server
ARG LLAMA_CPP_RELEASE=b10481

# Build stage: compile TypeScript (with the Swagger plugin) into dist/. Bookworm, whose glibc is
# older than the runtime's, so that anything built here also runs there.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY src ./src
RUN npx nest build && npm prune --omit=dev

# Runtime stage: llama.cpp's server image, plus Node, production dependencies, dist/, default config and profiles.
FROM ghcr.io/ggml-org/llama.cpp:${LLAMA_CPP_VARIANT}-${LLAMA_CPP_RELEASE} AS runtime
ARG LLAMA_CPP_VARIANT
ARG LLAMA_CPP_RELEASE
LABEL org.opencontainers.image.title="MAGI" \
      org.opencontainers.image.description="MAGI model server (Node 24) with llama.cpp ${LLAMA_CPP_VARIANT}-${LLAMA_CPP_RELEASE}" \
      org.opencontainers.image.base.name="ghcr.io/ggml-org/llama.cpp:${LLAMA_CPP_VARIANT}-${LLAMA_CPP_RELEASE}"
# LLAMA_ARG_HOST: the base image sets 0.0.0.0. MAGI always passes --host (LLAMA_SERVER_HOST), and
# the command line wins, so this only sets the default: loopback, as MAGI's own is.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    MODEL_SCAN_PATH=/models \
    REGISTRY_PATH=/app/data/model_registry.json \
    STATE_PATH=/app/data/state.json \
    PROFILES_PATH=/app/profiles \
    LLAMA_SERVER_PATH=/app/llama-server \
    LLAMA_ARG_HOST=127.0.0.1 \
    LD_LIBRARY_PATH=/app${LD_LIBRARY_PATH:+:${LD_LIBRARY_PATH}}
WORKDIR /app
COPY --from=build /usr/local/bin/node /usr/local/bin/node
# User node (uid/gid 1000, as in the node images). Ubuntu 24.04 images already have user ubuntu
# with uid 1000, so that one goes first. Only data/, profiles/ and /models are the user's: a
# recursive chown of /app would copy llama.cpp's libraries into one more layer.
RUN set -e; \
    if id ubuntu >/dev/null 2>&1; then userdel --remove ubuntu; fi; \
    if getent group ubuntu >/dev/null; then groupdel ubuntu; fi; \
    groupadd --gid 1000 node; \
    useradd --uid 1000 --gid node --shell /bin/bash --create-home node; \
    mkdir -p /app/data /models; \
    chown node:node /app/data /models; \
    node --version; \
    setpriv --pdeathsig KILL -- true; \
    test -x "$LLAMA_SERVER_PATH"; \
    if (cd / && ldd "$LLAMA_SERVER_PATH") | grep 'not found'; then exit 1; fi
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY config ./config
COPY --chown=node:node profiles ./profiles
USER node
VOLUME ["/models", "/app/data", "/app/profiles"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/health/live').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"
# The base image's ENTRYPOINT is /app/llama-server: cleared, so CMD runs MAGI.
ENTRYPOINT []
CMD ["node", "dist/main.js"]
