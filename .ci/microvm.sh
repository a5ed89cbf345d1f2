# Sourced by .ci/run: what the microVM backend and its tests need.
#
# - QEMU: qemu-system-x86. On bookworm it comes from bookworm-backports, because the machine
#   ships qemu-utils 10.0 from there and bookworm's own qemu-system-x86 (7.2) would remove it.
# - e2fsprogs (mke2fs makes the VMs' disks), busybox-static (the guest's initramfs), and
#   util-linux's setpriv (QEMU dies with the mesh).
# - A guest kernel: Debian's linux-image package for this release, not installed but only
#   unpacked (dpkg-deb -x) into /usr/local/lib/openlegion/linux, where the mesh looks first.

OPENLEGION_KERNEL_DIR=/usr/local/lib/openlegion/linux

ci_microvm_setup() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  local codename
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  if ! command -v qemu-system-x86_64 >/dev/null; then
    if [ "$codename" = bookworm ]; then
      if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        local mirror
        mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
        printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
          "${mirror:-http://deb.debian.org/debian}" | $sudo tee /etc/apt/sources.list.d/openlegion-backports.sources >/dev/null
      fi
      apt_install -t bookworm-backports qemu-system-x86 qemu-utils
    else
      apt_install qemu-system-x86
    fi
  fi
  local missing=()
  [ -x /usr/sbin/mke2fs ] || [ -x /sbin/mke2fs ] || missing+=(e2fsprogs)
  [ -x /usr/bin/setpriv ] || missing+=(util-linux)
  [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 || missing+=(busybox-static)
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"

  if ! ls "$OPENLEGION_KERNEL_DIR"/boot/vmlinuz-* >/dev/null 2>&1; then
    local package tmp
    package=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
    [ -n "$package" ] || { echo "no linux-image package for linux-image-amd64" >&2; return 1; }
    tmp=$(mktemp -d)
    chmod 0777 "$tmp"   # apt-get download runs as _apt where it can
    (cd "$tmp" && apt-get download -qq "$package")
    $sudo mkdir -p "$OPENLEGION_KERNEL_DIR"
    $sudo dpkg-deb -x "$tmp"/*.deb "$OPENLEGION_KERNEL_DIR"
    rm -rf "$tmp"
  fi
  echo "QEMU: $(qemu-system-x86_64 --version | head -1); guest kernel: $(ls "$OPENLEGION_KERNEL_DIR"/boot | grep vmlinuz)"
}
