"""Run by test_kserve_clients.py inside KServe's own environment (kserve 0.21): KServe's
documented clients, unchanged, against the gateway's OIP v2 endpoints. Prints JSON."""

import asyncio
import json
import sys

import numpy as np
from kserve import InferenceGRPCClient, InferenceRESTClient, InferInput, InferRequest, RESTConfig

POSTS = ["exam week on campus", "retirement party at the golf club"]


def request(binary: bool, rid: str) -> InferRequest:
    posts = InferInput(name="posts", shape=[len(POSTS)], datatype="BYTES")
    if binary:
        posts.set_data_from_numpy(np.array(POSTS, dtype=object), binary_data=True)
    else:
        posts.data = POSTS  # a list: typed contents over gRPC, JSON over REST
    return InferRequest(model_name="profiler", infer_inputs=[posts], request_id=rid)


async def main(http_url: str, grpc_target: str) -> dict:
    out: dict = {}
    rest = InferenceRESTClient(RESTConfig(protocol="v2", timeout=30))
    out["rest_live"] = await rest.is_server_live(http_url)
    out["rest_ready"] = await rest.is_server_ready(http_url)
    out["rest_model_ready"] = await rest.is_model_ready(http_url, "profiler")
    for binary in (False, True):
        res = await rest.infer(http_url, request(binary, f"rest-{binary}"), model_name="profiler")
        out[f"rest_binary_{binary}"] = {"id": res.id, "outputs": {
            o.name: np.asarray(o.as_numpy(), dtype=np.float64).tolist()
            for o in res.outputs if o.datatype != "BYTES"}}
    grpc_client = InferenceGRPCClient(grpc_target, timeout=30)
    out["grpc_live"] = await grpc_client.is_server_live()
    out["grpc_ready"] = await grpc_client.is_server_ready()
    out["grpc_model_ready"] = await grpc_client.is_model_ready("profiler")
    for binary in (False, True):
        res = await grpc_client.infer(request(binary, f"grpc-{binary}"))
        out[f"grpc_binary_{binary}"] = {"id": res.id, "outputs": {
            o.name: np.asarray(o.as_numpy(), dtype=np.float64).tolist()
            for o in res.outputs if o.datatype != "BYTES"}}
    await grpc_client.close()
    return out


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2]))))
