# syntax=docker/dockerfile:1
# kubemacpool-apiserver: a static binary on distroless, running as uid 107
# like the original Kubemacpool image, so the Deployment's securityContext
# (runAsNonRoot, runAsUser 107, readOnlyRootFilesystem) fits it.
#
#   docker build -t <registry>/kubemacpool-apiserver:<tag> .
#
# Cross-builds natively on the build host: docker buildx build --platform
# linux/amd64,linux/arm64 ...

FROM --platform=$BUILDPLATFORM golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY cmd/ cmd/
COPY pkg/ pkg/
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags='-s -w' -o /kubemacpool-apiserver ./cmd/kubemacpool-apiserver

FROM gcr.io/distroless/static:nonroot
COPY --from=builder /kubemacpool-apiserver /kubemacpool-apiserver
USER 107:107
ENTRYPOINT ["/kubemacpool-apiserver"]
