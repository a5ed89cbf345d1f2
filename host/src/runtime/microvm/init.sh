#!/bin/sh
# Stage one of an OpenLegion microVM (the initramfs's /init, run by busybox): load the
# virtio modules, mount the read-only root disk, the agent's data disk, /run and /tmp,
# then hand over to openlegion-vm-init on the root disk. Any failure reboots, which ends
# QEMU (-no-reboot); the reason is on the console (console.log beside the agent's sockets).
export PATH=/bin

fail() {
    echo "openlegion-init: $*"
    reboot -f
    sleep 60
}

mount -t devtmpfs -o nosuid,mode=0755 dev /dev || fail "cannot mount /dev"
mount -t proc -o nosuid,nodev,noexec proc /proc || fail "cannot mount /proc"
mount -t sysfs -o nosuid,nodev,noexec sys /sys || fail "cannot mount /sys"

while read -r module; do
    insmod "/lib/modules/$module.ko" || fail "cannot load module $module"
done </lib/modules/order

# `openlegion doctor` and the KVM probe boot this far only.
if grep -q 'openlegion.probe' /proc/cmdline; then
    echo "openlegion-probe: booted $(uname -r)"
    reboot -f
fi

ip link set lo up || fail "cannot bring up the loopback interface"

# The disks by label: virtio-mmio devices are probed in no fixed order.
tries=0
until root=$(findfs LABEL=openlegion-root 2>/dev/null) && data=$(findfs LABEL=openlegion-data 2>/dev/null); do
    tries=$((tries + 1))
    [ "$tries" -lt 300 ] || fail "the root and data disks did not appear"
    sleep 0.1
done

mount -t ext4 -o ro,nodev "$root" /newroot || fail "cannot mount the root disk $root"
# sync: a write reaches the disk (QEMU's file on the host) before it returns, so a VM that
# is killed (QEMU dies, the host kills it) loses nothing the agent was told was written, as
# with a container's volume. The guest's page cache would otherwise hold it for seconds.
mount -t ext4 -o nodev,nosuid,sync "$data" /newroot/data || fail "cannot mount the data disk $data"
mount -t tmpfs -o nodev,nosuid,mode=0755,size=64m run /newroot/run || fail "cannot mount /run"
mount -t tmpfs -o nodev,nosuid,mode=1777,size=256m tmp /newroot/tmp || fail "cannot mount /tmp"
mkdir -p /newroot/run/openlegion || fail "cannot create /run/openlegion"
cp /openlegion/handoff.json /newroot/run/openlegion/handoff.json || fail "no handoff from the host"
chmod 0600 /newroot/run/openlegion/handoff.json

for fs in dev proc sys; do
    mount --move "/$fs" "/newroot/$fs" || fail "cannot move /$fs"
done
exec switch_root /newroot /sbin/openlegion-vm-init
