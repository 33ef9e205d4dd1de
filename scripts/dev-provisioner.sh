#!/bin/sh
# The dev stack's volume provisioner: binds each pending claim of a StorageClass whose provisioner
# is csi.neuronsan.local to a new hostPath volume under .ferry/cluster/volumes, with Retain, the
# way a CSI driver's provisioner would. Runs until killed; started by scripts/cluster.sh.
set -eu
kubectl_bin=$1
kubeconfig=$2
volumes=$3
k() { "$kubectl_bin" --kubeconfig "$kubeconfig" "$@"; }

while :; do
  classes=$(k get storageclass -o jsonpath='{range .items[?(@.provisioner=="csi.neuronsan.local")]}{.metadata.name}{"\n"}{end}' 2>/dev/null || true)
  k get pvc -A -o jsonpath='{range .items[?(@.status.phase=="Pending")]}{.metadata.namespace}{" "}{.metadata.name}{" "}{.spec.storageClassName}{" "}{.spec.resources.requests.storage}{" "}{.metadata.uid}{"\n"}{end}' 2>/dev/null |
    while read -r namespace claim class size uid; do
      printf '%s\n' "$classes" | grep -qx "$class" || continue
      volume="pv-$uid"
      k get pv "$volume" >/dev/null 2>&1 && continue
      mkdir -p "$volumes/$volume"
      k apply -f - >/dev/null <<PV
apiVersion: v1
kind: PersistentVolume
metadata:
  name: $volume
  labels: { app.kubernetes.io/part-of: ferry, ferry.dev/provisioned-by: dev-provisioner }
  annotations: { pv.kubernetes.io/provisioned-by: csi.neuronsan.local }
spec:
  capacity: { storage: $size }
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: $class
  hostPath: { path: $volumes/$volume, type: DirectoryOrCreate }
  claimRef: { namespace: $namespace, name: $claim, uid: $uid }
PV
      echo "provisioned $volume for $namespace/$claim ($class, $size)"
    done
  sleep 2
done
