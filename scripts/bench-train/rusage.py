# usage: rusage.py LABEL CMD...: runs CMD, prints its CPU seconds (user, sys), minor page faults and peak RSS
import resource, subprocess, sys, time
w = time.perf_counter()
out = subprocess.run(sys.argv[2:], capture_output=True, text=True)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{sys.argv[1]}: rc {out.returncode} wall {time.perf_counter()-w:.1f} s, user {r.ru_utime:.1f} s, sys {r.ru_stime:.1f} s, minor faults {r.ru_minflt}, peak RSS {r.ru_maxrss/1024:.0f} MiB; {out.stdout.strip()[-160:]}", flush=True)
