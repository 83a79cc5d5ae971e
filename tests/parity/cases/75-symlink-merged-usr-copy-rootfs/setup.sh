chmod 0755 rootfs/bin/tool.sh
