# A burst of sign-ins against a running server: THREADS people (an office behind one address
# at the shift's start) sign in as fast as they can for SECONDS, each as themselves, while one
# more client reads a page of leads every 50 ms; prints the sign-ins per second and the reads'
# latency. Usage: python3 bench/sign-ins.py BASE_URL THREADS SECONDS
import json, sys, threading, time, urllib.request, statistics
base = sys.argv[1]; n_threads = int(sys.argv[2]); secs = float(sys.argv[3])
def call(path, body, token=None):
    headers = {"content-type": "application/json"}
    if token: headers["authorization"] = "Bearer " + token
    r = urllib.request.Request(base + path, data=json.dumps(body).encode(), headers=headers)
    return json.load(urllib.request.urlopen(r, timeout=60))
def login(user, password):
    return call("/api/auth/login", {"username": user, "password": password})["token"]
tok = login("admin", "bench-password-1")
for i in range(n_threads):
    call("/api/users", {"username": f"agent{i}", "password": "agent-password-1", "role": "operator"}, tok)
stop = time.time() + secs
done = [0]; refused = [0]
def flood(i):
    while time.time() < stop:
        try: login(f"agent{i}", "agent-password-1"); done[0] += 1
        except Exception as e: refused[0] += 1
lat = []
def probe():
    while time.time() < stop:
        t = time.time()
        r = urllib.request.Request(base + "/api/leads?page=1&limit=20", headers={"authorization": "Bearer " + tok})
        urllib.request.urlopen(r, timeout=60).read()
        lat.append(time.time() - t); time.sleep(0.05)
ts = [threading.Thread(target=flood, args=(i,)) for i in range(n_threads)] + [threading.Thread(target=probe)]
[t.start() for t in ts]; [t.join() for t in ts]
lat.sort()
print(f"logins={done[0]} ({done[0]/secs:.1f}/s) refused={refused[0]} probe n={len(lat)} p50={statistics.median(lat)*1000:.1f}ms p99={lat[int(len(lat)*0.99)-1]*1000:.1f}ms max={lat[-1]*1000:.1f}ms")
