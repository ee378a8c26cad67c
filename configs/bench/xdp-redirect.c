/* weir bench-bridge setup (e): the least an XDP data path can do on the lab's veth, as a
 * ceiling to compare weir with. Every frame arriving on `inside` is redirected to `outside`
 * (OUT_IFINDEX, set with -D at build time): no parsing, no maps, no inspection.
 *
 * Built by scripts/bench-bridge.sh with the machine's clang:
 *   clang -O2 -target bpf -I/usr/include/$(uname -m)-linux-gnu -DOUT_IFINDEX=N -c xdp-redirect.c
 * No libbpf headers needed: the one helper is declared by its number. */
#include <linux/bpf.h>

#ifndef OUT_IFINDEX
#error "build with -DOUT_IFINDEX=<ifindex of the outside interface>"
#endif

static long (*bpf_redirect)(__u32 ifindex, __u64 flags) = (void *)BPF_FUNC_redirect;

__attribute__((section("xdp"), used)) int redirect_all(struct xdp_md *ctx)
{
	(void)ctx;
	return (int)bpf_redirect(OUT_IFINDEX, 0);
}

__attribute__((section("license"), used)) char _license[] = "GPL";
