#!/bin/sh
# Every plugin .so in the plugin directory exports exactly one symbol, aitbc_plugin_describe:
# the SDK, the shared job rules and the plugin's own code are all hidden (nm -D).
set -eu
dir=$1
n=0
bad=0
for so in "$dir"/*.so; do
    [ -e "$so" ] || continue
    n=$((n + 1))
    # Defined dynamic symbols, minus the linker's section markers.
    syms=$(nm -D --defined-only "$so" | awk '{print $NF}' |
        grep -v -x -e _init -e _fini -e _edata -e _end -e __bss_start | sort)
    if [ "$syms" != "aitbc_plugin_describe" ]; then
        echo "$so exports $(echo "$syms" | wc -l) symbols:" $syms
        bad=1
    fi
done
[ "$n" -gt 0 ] || { echo "no plugins in $dir"; exit 1; }
[ "$bad" -eq 0 ] && echo "$n plugins export exactly aitbc_plugin_describe"
exit $bad
