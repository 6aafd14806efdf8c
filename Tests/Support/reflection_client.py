#!/usr/bin/env python3
"""Lists every method a server describes through gRPC server reflection, one
`package.Service/Method` per line, using grpcio-reflection's client (which speaks
grpc.reflection.v1alpha) and protobuf's descriptor pool: the services as grpcurl-style tools
see them, without their proto files.

Usage: reflection_client.py HOST:PORT
"""
import sys

import grpc
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)


def main():
    address = sys.argv[1]
    with grpc.insecure_channel(address) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        pool = DescriptorPool(database)
        for name in database.get_services():
            # Resolving the service fetches its file and every file it imports.
            service = pool.FindServiceByName(name)
            for method in service.methods:
                print(f"{service.full_name}/{method.name}")


if __name__ == "__main__":
    main()
