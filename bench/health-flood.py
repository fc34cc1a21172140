# A flood of public check suites against a running server: CLIENTS clients ask for
# /health/integration-test?suite=full as fast as they can for SECONDS, while one more reads
# /health/database (one database round trip) every 50 ms; prints the suites per second and the
# round trip's latency. Usage: python3 bench/health-flood.py BASE_URL CLIENTS SECONDS
import statistics
import sys
import threading
import time
import urllib.request

base, clients, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
stop = time.time() + secs
done = [0]
lat = []


def flood():
    while time.time() < stop:
        urllib.request.urlopen(base + "/health/integration-test?suite=full", timeout=120).read()
        done[0] += 1


def probe():
    while time.time() < stop:
        t = time.time()
        urllib.request.urlopen(base + "/health/database", timeout=60).read()
        lat.append(time.time() - t)
        time.sleep(0.05)


threads = [threading.Thread(target=flood) for _ in range(clients)] + [threading.Thread(target=probe)]
for t in threads:
    t.start()
for t in threads:
    t.join()
lat.sort()
print(
    f"suites={done[0]} ({done[0] / secs:.1f}/s) /health/database n={len(lat)} "
    f"p50={statistics.median(lat) * 1000:.1f}ms p99={lat[int(len(lat) * 0.99) - 1] * 1000:.1f}ms"
)
