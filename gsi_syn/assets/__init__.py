"""The versioned asset library of GSI-Syn.

Assets come from three sources, all recorded with provenance, licence and SHA-256 in
``data/manifest.json``:

* ``pybullet_data`` (zlib; installed with pybullet): duck, mug, teddy bear, soccer ball, …;
* ``robosuite`` 1.5.2 (MIT; extracted from its wheel on first use, see :mod:`.fetch`): textured
  groceries and material textures;
* ``procedural`` (Apache-2.0; :mod:`.procedural`, :mod:`.furniture`): deterministic generators
  for everything else, including parametric furniture, floors and walls;
* ``sweethome3d`` (CC0 / CC-BY per model; :mod:`.sweethome3d`, own manifest
  ``data/sweethome3d.json``): the Sweet Home 3D furniture libraries packaged by Debian.

Use :func:`get_library` for the process-wide :class:`AssetLibrary`. The scene samplers draw from
:mod:`.pool`: the core objects and furniture plus the Sweet Home 3D models that have a part in
scenes (:mod:`.roles`: object, receptacle, support with a ray-cast verified top, or furnishing
piece, and the "goes with" groups; committed as ``data/sweethome3d_roles.json``).
"""

from gsi_syn.assets.fetch import AssetFetchError, ensure_robosuite_assets
from gsi_syn.assets.generators import SupportSurface
from gsi_syn.assets.library import AssetIntegrityError, AssetLibrary, get_library
from gsi_syn.assets.manifest import AssetEntry, ManifestError, TextureEntry
from gsi_syn.assets.mesh import AssetMesh

__all__ = [
    "AssetEntry",
    "AssetFetchError",
    "AssetIntegrityError",
    "AssetLibrary",
    "AssetMesh",
    "ManifestError",
    "SupportSurface",
    "TextureEntry",
    "ensure_robosuite_assets",
    "get_library",
]
