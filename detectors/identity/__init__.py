"""Face identity: does each face track keep one identity
(``face_identity_consistency``), and is the face the person it is claimed
to be (``enroll`` + ``face_identity_claim``, used only when a claim is given)?"""
