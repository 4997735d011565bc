#!/usr/bin/env bash
# Prints the order in which RSPLIB's Weighted Round Robin hands out PEs (one PE per handle
# resolution), for comparison with Poolgate's evenly spread order:
#   bench/handlespace/rsplib_wrr_order.sh 1,2,3,4,10 40
# Reuses the ABI declarations at the top of shared/bench/rsplib-hs/hsbench.c (run its build.sh
# first so that librsplib3 is installed).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RSPLIB_HS="${RSPLIB_HS:-$HERE/../../../shared/bench/rsplib-hs}"
WEIGHTS="${1:-1,2,3,4,10}"
COUNT="${2:-40}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
sed -n '1,/===== Workload definition/p' "$RSPLIB_HS/hsbench.c" | head -n -2 > "$WORK/probe.c"
cat >> "$WORK/probe.c" <<'C'
int main(int argc, char** argv) {
   struct rsp_hs_mgmt* hsm = calloc(1, sizeof(struct rsp_hs_mgmt) + 4096);
   HS(poolHandlespaceManagementNew)(hsm, 0x10000001, NULL, NULL, NULL);
   struct rsp_pool_handle ph;
   poolHandleNew(&ph, (const unsigned char*)"EchoPool", 8);
   unsigned int id = 0;
   for (char* w = strtok(argv[1], ","); w; w = strtok(NULL, ",")) {
      union { struct rsp_tab tab; unsigned char raw[sizeof(struct rsp_tab) + sizeof(union rsp_sockaddr)]; } ut;
      union rsp_sockaddr a;
      memset(&a, 0, sizeof(a));
      a.in.sin_family = AF_INET;
      a.in.sin_addr.s_addr = htonl(0x0a000001 + id);
      transportAddressBlockNew(&ut.tab, IPPROTO_TCP, 1000 + id, 0, &a, 1, 1);
      struct rsp_policy_settings pps;
      memset(&pps, 0, sizeof(pps));
      pps.type = 0x00000002;
      pps.weight = (unsigned int)atoi(w);
      struct rsp_pe_node* node = NULL;
      id++;
      if (HS(poolHandlespaceManagementRegisterPoolElement)(hsm, &ph, 0x10000001, id, 30000, &pps,
            &ut.tab, NULL, 1, (int32_t)id, 1000000, &node) != 0) return 1;
   }
   for (int k = 0; k < atoi(argv[2]); k++) {
      struct rsp_pe_node* sel[1];
      size_t got = 1;
      HS(poolHandlespaceManagementHandleResolution)(hsm, &ph, sel, &got, 1, 0);
      printf("%u ", sel[0]->identifier);
   }
   printf("\n");
   return 0;
}
C
gcc -O2 -w -o "$WORK/probe" "$WORK/probe.c" -l:librsphsmgt.so.3
"$WORK/probe" "$WEIGHTS" "$COUNT"
