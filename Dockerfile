# The ccflow images, from prebuilt binaries: nothing is pulled, nothing is compiled here.
#
# `cargo xtask image` assembles the build context and runs `docker build` twice (targets
# `ccflow-auth-server` and `ccflow-resource-api`); to build elsewhere, lay out a context as it
# does (docs/docker.md, "Building the images"):
#
#   rootfs/                      copied to / in both images: the shared libraries the binaries
#                                need, at the paths `ldd` names (none for static binaries),
#                                etc/passwd, etc/group with the `ccflow` user (uid 10001),
#                                etc/nsswitch.conf, and etc/ssl/certs/ca-certificates.crt (the
#                                resource API's HTTP client needs a CA bundle to start)
#   bin/ccflow-auth-server       stripped release binaries
#   bin/ccflow-resource-api
#
# then: docker build -f Dockerfile --target ccflow-auth-server -t ccflow-auth-server:VERSION CONTEXT
#
# No shell, no curl: HEALTHCHECK runs the binary's own `healthcheck` subcommand (its readiness
# route on its bind address). SIGTERM (`docker stop`) stops either server gracefully.

FROM scratch AS base
COPY rootfs/ /
USER 10001:10001
# For `docker exec CONTAINER ccflow-auth-server healthcheck …` (there is no shell to search it).
ENV PATH=/usr/local/bin
WORKDIR /

FROM base AS ccflow-auth-server
COPY bin/ccflow-auth-server /usr/local/bin/ccflow-auth-server
# Listen on every interface inside the container. With no issuer configured, the issuer is
# http://127.0.0.1:8080 (a wildcard bind stands for loopback): right for `docker run -p
# 8080:8080`; set CCFLOW_ISSUER for anything else (docs/docker.md, "The issuer").
ENV CCFLOW_BIND=0.0.0.0:8080
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=3s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/ccflow-auth-server", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/ccflow-auth-server"]

FROM base AS ccflow-resource-api
COPY bin/ccflow-resource-api /usr/local/bin/ccflow-resource-api
ENV CCFLOW_RESOURCE_BIND=0.0.0.0:8081
EXPOSE 8081
STOPSIGNAL SIGTERM
# Healthy once the issuer's keys are loaded (GET /readyz).
HEALTHCHECK --interval=3s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/ccflow-resource-api", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/ccflow-resource-api"]
