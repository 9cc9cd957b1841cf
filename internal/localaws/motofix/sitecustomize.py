# Loaded by the Python that runs moto_server when localaws starts it
# (PYTHONPATH names this file's folder). It makes moto's Secrets Manager
# follow AWS where moto 5 does not: UpdateSecretVersionStage that moves
# AWSCURRENT leaves moto's "default version" where it was, so a later
# GetSecretValue without a stage, a BatchGetSecretValue, and the AWSPREVIOUS
# bookkeeping of the next plain PutSecretValue all use the old version. AWS
# serves the version that holds AWSCURRENT in every one of those. The fix
# records the new holder of AWSCURRENT as the default version.
import sys

try:
    from moto.secretsmanager import models as _models

    _update = _models.SecretsManagerBackend.update_secret_version_stage

    def update_secret_version_stage(self, secret_id, version_stage, remove_from_version_id, move_to_version_id):
        out = _update(self, secret_id, version_stage, remove_from_version_id, move_to_version_id)
        if version_stage == "AWSCURRENT" and move_to_version_id:
            self.secrets[secret_id].set_default_version_id(move_to_version_id)
        return out

    _models.SecretsManagerBackend.update_secret_version_stage = update_secret_version_stage
    sys.stderr.write("localaws: moto label fix loaded\n")
except Exception as e:  # reported by localaws, which refuses to go on
    sys.stderr.write("localaws: moto label fix failed: %r\n" % (e,))
sys.stderr.flush()
