# Sourced by the UML harness scripts: picks the UML kernel and its module tree.
# Order: $FAILOVERD_UML_KERNEL, the kernel provisioned by provision-uml.sh, Debian's linux.uml.
uml_cache=${FAILOVERD_UML_CACHE:-/var/cache/failoverd-uml}
uml_kernel=${FAILOVERD_UML_KERNEL:-}
uml_moddir=${FAILOVERD_UML_MODULES:-}
if [ -z "$uml_kernel" ] && [ -x "$uml_cache/linux.uml" ]; then
  uml_kernel=$uml_cache/linux.uml
  uml_moddir=${uml_moddir:-$(ls -d "$uml_cache"/root/usr/lib/uml/modules/* 2>/dev/null | head -n1)}
fi
if [ -z "$uml_kernel" ]; then
  uml_kernel=$(command -v linux.uml || echo /usr/bin/linux.uml)
fi
if [ -z "$uml_moddir" ]; then
  uml_moddir=$(ls -d /usr/lib/uml/modules/* 2>/dev/null | head -n1)
fi
