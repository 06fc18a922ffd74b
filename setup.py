"""Packaging for the Gluster Events API: the daemon, the CLI and the event catalog."""

from setuptools import find_packages, setup

setup(
    name="gluster-eventsapi",
    version="1.0.0",
    description="Gluster Events API: glustereventsd and gluster-eventsapi, reimplemented",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="GPL-2.0-or-later OR LGPL-3.0-or-later",
    python_requires=">=3.9",
    packages=find_packages(include=["glustereventsd*", "gluster_eventsapi*", "eventtypes*"]),
    # The page of 'listen --web' is served from the installed package (no CDN, no network).
    package_data={"gluster_eventsapi.listen": ["webpage/*.html", "webpage/*.js", "webpage/*.css",
                                        "webpage/*.svg"]},
    install_requires=[
        # The response parser of the delivery engine (llhttp, from Node.js): 1.0-1.5 us per answer
        # against 3.6 us for the hand-written one it replaced, and RFC 9112's framing rules.
        "httptools>=0.6",
        # IDNA 2008 / UTS 46 host names (what python-requests sends); Python's codec is IDNA 2003.
        "idna>=3.4",
        # NATS JetStream sinks: the maintained NATS client (reconnects across a cluster, TLS, NKeys,
        # .creds), imported only by a daemon that has a NATS sink; nkeys (with PyNaCl) signs NKey and
        # .creds logins and checks seed files in the CLI.
        "nats-py>=2.6",
        "nkeys>=0.2",
        "prettytable>=3.0",
        # inotify is Linux's: elsewhere (FreeBSD) the daemon watches its files by polling.
        "pyinotify>=0.9.6; sys_platform == 'linux'",
        "prometheus_client>=0.16",
        "pyasyncore>=1.0.2; python_version >= '3.12' and sys_platform == 'linux'",  # for pyinotify
    ],
    extras_require={
        "test": [
            "pytest>=7",
            "pytest-timeout>=2.1",
            "pyjwt>=2.6",
            "standardwebhooks>=1.0",
            "hypothesis>=6.80",
            "cryptography>=41",  # tests make their own CA and certificates (tests/tls.py)
            "mypy>=1.8,<1.20",  # 1.20 dropped python_version = 3.9, the oldest Python we run on
            "ruff>=0.4",
            # drives Debian's chromium through chromium-driver for the page tests (tests/browser.py)
            "selenium>=4.15",
            "wheel>=0.40",  # the packaging test builds a wheel without build isolation,
            "setuptools>=61",  # so it needs the build backend in the venv (3.12+ venvs come without it)
            "pyyaml>=6",  # the alert rules test reads etc/prometheus/*.yml
            # parses each --format cloudevents POST as a receiver would (cloudevents.http.from_http; 2.x dropped it)
            "cloudevents>=1.9,<2",
            # lint-imports checks the layering contracts of .importlinter (docs/ARCHITECTURE.md), and its
            # grimp builds the import graph the cycle test reads: both would be hand-written otherwise.
            "import-linter>=2.0",
        ],
    },
    data_files=[
        ("etc/glusterfs", ["etc/eventsconfig.json"]),
        ("etc/prometheus", ["etc/prometheus/glustereventsd-alerts.yml"]),  # alert rules to load
        ("share/man/man8", ["man/glustereventsd.8", "man/gluster-eventsapi.8"]),
        ("share/bash-completion/completions", ["etc/bash_completion.d/gluster-eventsapi"]),
        # Not read from the prefix: copy to /etc/init.d (SysV) or, with prefix /usr/local,
        # already where FreeBSD looks (/usr/local/etc/rc.d). See README, "Without systemd".
        ("etc/init.d", ["etc/init.d/glustereventsd"]),
        ("etc/rc.d", ["etc/rc.d/glustereventsd"]),
    ],
    entry_points={
        "console_scripts": [
            "glustereventsd = glustereventsd.__main__:main",
            "gluster-eventsapi = gluster_eventsapi.__main__:main",
        ],
    },
)
