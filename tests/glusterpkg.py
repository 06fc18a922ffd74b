"""Gluster's own files exactly as the ``glusterfs-server`` package ships them, never the host's.

The Gluster tiers give each node of theirs a ``/etc/glusterfs`` (glusterd.vol, the
distribution's eventsconfig.json) and a glusterd workdir (hook scripts, option groups). On
a machine that is itself a Gluster node, the host's copies hold its own webhooks, config,
node id, peers, volumes, an edited eventsconfig.json or hook: none of it may reach a test.
So ``install_package_files`` writes only the files the package lists (``dpkg-query -L``),
each with the content the package shipped:

- from the package's ``.deb`` when apt's cache has the installed version (exact modes too);
- else from the host's file when its MD5 is the one dpkg recorded for it (a conffile's
  from the ``Conffiles`` field, any other file's from ``<package>.md5sums``);
- else, when a file was edited or removed on the host, from the ``.deb`` fetched with
  ``apt-get download`` into a cache of the tests (``GLUSTER_EVENTS_DEB_CACHE``).
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "glusterfs-server"
TREES = ("/etc/glusterfs", "/var/lib/glusterd")
APT_CACHE = Path("/var/cache/apt/archives")
DEB_CACHE = Path(os.environ.get("GLUSTER_EVENTS_DEB_CACHE") or "/var/cache/gluster-eventsapi-tests")


class PackageFilesUnavailable(RuntimeError):
    """The package's own files cannot be had: it is not installed, or a file was edited and
    the ``.deb`` cannot be fetched."""


def _query(*argv: str) -> str:
    done = subprocess.run(["dpkg-query", *argv], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, check=False)
    if done.returncode != 0:
        raise PackageFilesUnavailable(f"dpkg-query {' '.join(argv)}: {done.stderr.strip()} "
                                      f"(install {PACKAGE}: bash .ci/run does)")
    return done.stdout


def _within(path: str) -> bool:
    return any(path == tree or path.startswith(tree + "/") for tree in TREES)


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _expected_md5s() -> dict[str, str]:
    """Absolute path -> MD5 dpkg recorded, for every file of the package under TREES."""
    found: dict[str, str] = {}
    listing = Path(f"/var/lib/dpkg/info/{PACKAGE}.md5sums")
    for line in listing.read_text().splitlines() if listing.exists() else []:
        digest, _, name = line.partition("  ")
        if _within("/" + name):
            found["/" + name] = digest
    for line in _query("-W", "-f", "${Conffiles}\n", PACKAGE).splitlines():
        words = line.split()
        if len(words) >= 2 and _within(words[0]) and words[1] != "newconffile":
            found[words[0]] = words[1]
    return found


def _deb_name() -> str:
    version, arch = _query("-W", "-f", "${Version} ${Architecture}", PACKAGE).split()
    return f"{PACKAGE}_{version.replace(':', '%3a')}_{arch}.deb"


def _fetch_deb() -> Path:
    """The installed version's ``.deb``: from apt's cache, else ``apt-get download`` (cached)."""
    name = _deb_name()
    for folder in (APT_CACHE, DEB_CACHE):
        if (folder / name).is_file():
            return folder / name
    version = _query("-W", "-f", "${Version}", PACKAGE)
    DEB_CACHE.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["apt-get", "download", "-q", f"{PACKAGE}={version}"], cwd=DEB_CACHE,
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL, check=False)
    if done.returncode != 0 or not (DEB_CACHE / name).is_file():
        raise PackageFilesUnavailable(
            f"this machine's Gluster files differ from what {PACKAGE} {version} ships, and its .deb "
            f"could not be fetched to get the shipped ones ({done.stderr.strip() or done.stdout.strip()}); "
            f"put {name} into {DEB_CACHE}")
    return DEB_CACHE / name


def _from_deb(deb: Path, dest: Path) -> None:
    """Unpack the package's files under TREES into ``dest`` (as ``dest/etc/glusterfs/...``)."""
    with subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE,
                          stdin=subprocess.DEVNULL) as dpkg:
        assert dpkg.stdout is not None
        with tarfile.open(fileobj=dpkg.stdout, mode="r|") as archive:
            for member in archive:
                path = "/" + member.name.lstrip("./")
                if not _within(path) or not (member.isdir() or member.isfile() or member.issym()):
                    continue
                target = dest / path.lstrip("/")
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    target.chmod(member.mode & 0o7777)
                elif member.issym():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.symlink(member.linkname, target)
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    source = archive.extractfile(member)
                    assert source is not None
                    with open(target, "wb") as out:
                        shutil.copyfileobj(source, out)
                    target.chmod(member.mode & 0o7777)
    if dpkg.returncode != 0:
        raise PackageFilesUnavailable(f"dpkg-deb could not read {deb}")


def _from_host(dest: Path) -> bool:
    """Copy the package's files under TREES from the host where each is as shipped.

    False (and ``dest`` incomplete) when one was edited, removed or replaced.
    """
    expected = _expected_md5s()
    for path in sorted(p for p in _query("-L", PACKAGE).splitlines() if _within(p)):
        source, target = Path(path), dest / path.lstrip("/")
        if source.is_symlink():  # dpkg keeps no digest of a link: the package's point into /usr
            target.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(os.readlink(source), target)
            continue
        if source.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            target.chmod(0o755)
            continue
        if path not in expected or not source.is_file() or _md5(source) != expected[path]:
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        target.chmod(0o755 if source.stat().st_mode & 0o111 else 0o644)
    return True


@functools.lru_cache(maxsize=1)
def _pristine() -> Path:
    """A folder with ``etc/glusterfs`` and ``var/lib/glusterd`` as shipped, made once per process."""
    folder = Path(tempfile.mkdtemp(prefix="glusterpkg-"))
    import atexit

    atexit.register(shutil.rmtree, folder, True)
    name = _deb_name()
    cached = [f / name for f in (APT_CACHE, DEB_CACHE) if (f / name).is_file()]
    if cached:
        _from_deb(cached[0], folder)
    elif not _from_host(folder):
        shutil.rmtree(folder)
        folder.mkdir()
        _from_deb(_fetch_deb(), folder)
    for tree in TREES:
        (folder / tree.lstrip("/")).mkdir(parents=True, exist_ok=True)
    return folder


def installed() -> bool:
    """Whether dpkg knows the package as installed (else there is nothing shipped to copy)."""
    done = subprocess.run(["dpkg-query", "-W", "-f", "${db:Status-Status}", PACKAGE], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)
    return done.returncode == 0 and done.stdout.strip() == "installed"


def install_package_files(etc: Path | None = None, workdir: Path | None = None) -> None:
    """Write the package's ``/etc/glusterfs`` into ``etc`` and its ``/var/lib/glusterd`` (hooks,
    groups: nothing of a node's state) into ``workdir``; each folder must not exist yet.

    Without the package (no dpkg, or not installed) both folders are made empty: a machine
    without Gluster. Raises PackageFilesUnavailable when the shipped files cannot be had.
    """
    if shutil.which("dpkg-query") is None or not installed():
        for dest in (etc, workdir):
            if dest is not None:
                dest.mkdir(mode=0o755)
        return
    pristine = _pristine()
    for tree, dest in zip(TREES, (etc, workdir)):
        if dest is not None:
            shutil.copytree(pristine / tree.lstrip("/"), dest, symlinks=True)
