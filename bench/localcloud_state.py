"""What ``--state`` costs per mutation: localcloud rewrites the whole state after every change.

    python bench/localcloud_state.py [--runs 3] [--calls 50]

For 0, 10, 100 and 1000 managed users (each: a user, an ARMS policy, an AccessKey, a
Generic secret with the key in it and a tag), the median over runs of: the save itself,
an UpdateUser through the official SDK over HTTP with and without a state file.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alibabacloud_ram20150501 import models as rm  # noqa: E402
from alibabacloud_ram20150501.client import Client as RamClient  # noqa: E402

from localcloud import LocalCloud  # noqa: E402


def seed(cloud, users):
    cloud.ram.quotas["users"] = users + 1
    for i in range(users):
        name = f"user{i:05d}"
        cloud.invoke("CreateUser", {"UserName": name, "Comments": "managed-by=hr;st=active"})
        cloud.invoke("AttachPolicyToUser", {"UserName": name, "PolicyType": "System",
                                            "PolicyName": "AliyunARMSReadOnlyAccess"})
        key = cloud.invoke("CreateAccessKey", {"UserName": name})[1]["AccessKey"]
        cloud.invoke("CreateSecret", {"SecretName": f"ram-user/{name}", "VersionId": key["AccessKeyId"],
                                      "SecretData": json.dumps({"UserName": name, **key}),
                                      "Tags": json.dumps([{"TagKey": "employeeId", "TagValue": f"E{i}"}])})
    cloud.invoke("CreateUser", {"UserName": "target"})


def one_run(users, calls, directory):
    path = os.path.join(directory, f"state-{users}.json")
    if os.path.exists(path):
        os.unlink(path)
    figures = {}
    for with_state in (False, True):
        with LocalCloud(state_file=path if with_state else None) as cloud:
            on_change, cloud.gateway.on_change = cloud.gateway.on_change, None
            seed(cloud, users)
            cloud.gateway.on_change = on_change
            if with_state:
                cloud.save_state()
                cloud._state.saves, cloud._state.seconds = 0, 0.0
            ram = RamClient(cloud.client_config())
            started = time.perf_counter()
            for i in range(calls):
                ram.update_user(rm.UpdateUserRequest(user_name="target", new_comments=f"c{i}"))
            per_call = (time.perf_counter() - started) / calls * 1000
            if with_state:
                figures["save_ms"] = cloud._state.seconds / cloud._state.saves * 1000
                figures["file_kib"] = os.path.getsize(path) / 1024
                figures["call_state_ms"] = per_call
            else:
                figures["call_ms"] = per_call
    return figures


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    print("| managed users | state file | save per mutation | SDK UpdateUser without `--state` | with |")
    print("|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as directory:
        for users in (0, 10, 100, 1000):
            runs = [one_run(users, args.calls, directory) for _ in range(args.runs)]
            med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            print(f"| {users} | {med['file_kib']:.0f} KiB | {med['save_ms']:.1f} ms | {med['call_ms']:.1f} ms "
                  f"| {med['call_state_ms']:.1f} ms |")


if __name__ == "__main__":
    main()
